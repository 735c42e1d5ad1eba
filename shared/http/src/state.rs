//! Shared state of the router and the clock hook of the local server.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use crm_core::Engine;

use crate::auth::ApiKeys;

/// The pseudo-tenant name under which the admin key is kept (never a tenant).
const ADMIN: &str = "_admin";

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
    /// Accepted API keys and their tenants.
    pub keys: Arc<ApiKeys>,
    /// The manual clock, if the server runs on one; `None` makes the clock
    /// endpoints answer 404.
    pub clock: Option<Arc<dyn ClockControl>>,
    /// The admin key (the only key that may move the manual clock), if any.
    pub admin: Option<Arc<ApiKeys>>,
}

impl AppState {
    /// State without a clock hook.
    pub fn new(engine: Arc<Engine>, keys: ApiKeys) -> Self {
        AppState {
            engine,
            keys: Arc::new(keys),
            clock: None,
            admin: None,
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
        self.admin = Some(Arc::new(ApiKeys::single(ADMIN, key)));
        self
    }
}
