//! Shared state of the router and the clock hook of the local server.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use crm_core::Engine;
use crm_core::api_keys::KeyHash;

use crate::auth::ApiKeys;
use crate::key_cache::CachedKeys;
use crate::throttle::TenantThrottle;
use crate::write_gate::WriteGate;

/// Control over a manual clock (the local server started with one).
///
/// `advance` moves the clock and runs everything that is due by the new
/// time — delayed robots in due order and all queued work — before it
/// returns the new time. An `Err` is logged and answered as 500 without its
/// text.
#[async_trait]
pub trait ClockControl: Send + Sync {
    /// The clock's current time.
    fn now(&self) -> DateTime<Utc>;
    /// Moves the clock forward by `seconds` (≥ 0; 0 only runs what is due)
    /// and returns the new time.
    async fn advance(&self, seconds: i64) -> Result<DateTime<Utc>, String>;
}

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    /// The engine every request goes to.
    pub engine: Arc<Engine>,
    /// API keys given at start (hashed) and their tenants.
    pub keys: Arc<ApiKeys>,
    /// The key store behind its cache, asked for keys not in `keys`.
    pub key_store: Option<Arc<CachedKeys>>,
    /// The per-tenant request limit (`None`: no limit).
    pub throttle: Option<Arc<TenantThrottle>>,
    /// Back-pressure on each tenant's writes (`None`: writes never wait).
    pub write_gate: Option<Arc<dyn WriteGate>>,
    /// The manual clock, if the server runs on one; `None` makes the clock
    /// endpoints answer 404.
    pub clock: Option<Arc<dyn ClockControl>>,
    /// Hash of the admin key given at start (the only kind of key that may
    /// move the manual clock; the key store may hold admin keys too).
    pub admin: Option<KeyHash>,
    /// The limits of the public, keyless endpoints (forms, beacon, payment
    /// webhooks): per client IP, form or endpoint.
    pub public_limits: Arc<crate::public::PublicLimiter>,
}

impl AppState {
    /// State without a clock hook, key store or limit.
    pub fn new(engine: Arc<Engine>, keys: ApiKeys) -> Self {
        AppState {
            engine,
            keys: Arc::new(keys),
            key_store: None,
            throttle: None,
            write_gate: None,
            clock: None,
            admin: None,
            public_limits: Arc::new(crate::public::PublicLimiter::default()),
        }
    }

    /// The same state with the clock endpoints enabled.
    pub fn with_clock(mut self, clock: Arc<dyn ClockControl>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The same state with an admin key: `POST /v1/clock/advance` needs it
    /// (without one, nobody may move the clock). An empty key matches nothing.
    pub fn with_admin_key(mut self, key: impl Into<String>) -> Self {
        let key = key.into();
        self.admin = (!key.is_empty()).then(|| KeyHash::of(&key));
        self
    }

    /// The same state looking keys up in a key store (through its cache).
    pub fn with_key_store(mut self, store: CachedKeys) -> Self {
        self.key_store = Some(Arc::new(store));
        self
    }

    /// The same state with these public-endpoint limits (tests: a manual ticker).
    pub fn with_public_limits(mut self, limits: crate::public::PublicLimiter) -> Self {
        self.public_limits = Arc::new(limits);
        self
    }

    /// The same state with back-pressure on each tenant's writes.
    pub fn with_write_gate(mut self, gate: Arc<dyn WriteGate>) -> Self {
        self.write_gate = Some(gate);
        self
    }

    /// The same state with a per-tenant request limit.
    pub fn with_throttle(mut self, throttle: TenantThrottle) -> Self {
        self.throttle = Some(Arc::new(throttle));
        self
    }
}
