//! [`TenantThrottle`]: a token bucket per tenant, so that one tenant's burst
//! cannot take the whole service (API Gateway's stage throttle in front of
//! the api function is one limit for everyone).
//!
//! Each tenant's bucket holds up to `burst` tokens and gains `rate` tokens a
//! second; a request takes one token, and without one it is answered 429 with
//! `Retry-After` (whole seconds until a token is back, at least 1). Buckets
//! are independent: one tenant at its limit does not slow another.
//!
//! Memory stays bounded: a bucket that has refilled completely is the same
//! as no bucket, so idle tenants' buckets are dropped whenever the map has
//! grown (at most the tenants seen in the last `burst / rate` seconds stay).
//! Time comes from a [`Ticker`], so tests are exact.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::ticker::{SystemTicker, Ticker};

/// The per-tenant limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Sustained requests per second per tenant; 0 turns the limit off.
    pub rate: u32,
    /// Requests a tenant may send at once after being idle (at least 1).
    pub burst: u32,
}

impl ThrottleConfig {
    /// 2,000 requests/s with bursts of 4,000: twice the documented load
    /// target (1,000 stage changes/s per tenant) plus headroom for reads.
    pub const DEFAULT: ThrottleConfig = ThrottleConfig {
        rate: 2_000,
        burst: 4_000,
    };

    /// No limit.
    pub const DISABLED: ThrottleConfig = ThrottleConfig { rate: 0, burst: 0 };

    /// Whether a limit applies.
    pub fn is_enabled(&self) -> bool {
        self.rate > 0
    }
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Duration,
}

#[derive(Debug, Default)]
struct Buckets {
    by_tenant: HashMap<String, Bucket>,
    /// Sweep idle buckets when the map grows past this.
    sweep_at: usize,
}

/// Per-tenant token buckets; see the module documentation.
pub struct TenantThrottle {
    rate: f64,
    burst: f64,
    enabled: bool,
    ticker: Arc<dyn Ticker>,
    buckets: Mutex<Buckets>,
}

impl std::fmt::Debug for TenantThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantThrottle")
            .field("rate", &self.rate)
            .field("burst", &self.burst)
            .finish_non_exhaustive()
    }
}

/// Fewest buckets before idle ones are swept.
const MIN_SWEEP: usize = 1_024;

impl TenantThrottle {
    /// The limit `config` on real time.
    pub fn new(config: ThrottleConfig) -> Self {
        Self::with_ticker(config, Arc::new(SystemTicker::new()))
    }

    /// The same on injected time (tests).
    pub fn with_ticker(config: ThrottleConfig, ticker: Arc<dyn Ticker>) -> Self {
        TenantThrottle {
            rate: f64::from(config.rate),
            burst: f64::from(config.burst.max(1)),
            enabled: config.is_enabled(),
            ticker,
            buckets: Mutex::new(Buckets {
                by_tenant: HashMap::new(),
                sweep_at: MIN_SWEEP,
            }),
        }
    }

    /// Take one token of `tenant`'s bucket. `Err(seconds)`: none left; a
    /// token is back after that many whole seconds (≥ 1).
    pub fn check(&self, tenant: &str) -> Result<(), u64> {
        if !self.enabled {
            return Ok(());
        }
        let now = self.ticker.elapsed();
        let mut guard = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let buckets = &mut *guard;
        if buckets.by_tenant.len() >= buckets.sweep_at {
            let (rate, burst) = (self.rate, self.burst);
            buckets
                .by_tenant
                .retain(|_, b| refilled(b, now, rate, burst) < burst);
            buckets.sweep_at = (2 * buckets.by_tenant.len()).max(MIN_SWEEP);
        }
        let bucket = match buckets.by_tenant.get_mut(tenant) {
            Some(b) => b,
            None => buckets
                .by_tenant
                .entry(tenant.to_string())
                .or_insert(Bucket {
                    tokens: self.burst,
                    at: now,
                }),
        };
        bucket.tokens = refilled(bucket, now, self.rate, self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait = ((1.0 - bucket.tokens) / self.rate).ceil();
        // `wait` is positive and finite (rate > 0); the cast saturates.
        Err((wait as u64).max(1))
    }

    /// Buckets kept now (for tests of the memory bound).
    pub fn tenants(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_tenant
            .len()
    }
}

/// The tokens of `bucket` at `now`.
fn refilled(bucket: &Bucket, now: Duration, rate: f64, burst: f64) -> f64 {
    let gained = now.saturating_sub(bucket.at).as_secs_f64() * rate;
    (bucket.tokens + gained).min(burst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticker::ManualTicker;

    fn throttle(rate: u32, burst: u32) -> (Arc<ManualTicker>, TenantThrottle) {
        let ticker = Arc::new(ManualTicker::new());
        let t = TenantThrottle::with_ticker(ThrottleConfig { rate, burst }, ticker.clone());
        (ticker, t)
    }

    #[test]
    fn a_burst_then_the_rate() {
        let (ticker, t) = throttle(10, 20);
        for _ in 0..20 {
            t.check("a").unwrap();
        }
        assert_eq!(t.check("a"), Err(1));
        ticker.advance(Duration::from_millis(100));
        t.check("a").unwrap();
        assert_eq!(t.check("a"), Err(1));
    }

    #[test]
    fn retry_after_is_whole_seconds_until_a_token_is_back() {
        let (ticker, t) = throttle(1, 3);
        for _ in 0..3 {
            t.check("a").unwrap();
        }
        assert_eq!(t.check("a"), Err(1));
        ticker.advance(Duration::from_millis(500));
        assert_eq!(t.check("a"), Err(1), "half a token: still 1 s (rounded up)");
        ticker.advance(Duration::from_millis(500));
        t.check("a").unwrap();
    }

    #[test]
    fn tenants_are_independent() {
        let (_ticker, t) = throttle(5, 5);
        for _ in 0..5 {
            t.check("a").unwrap();
        }
        assert!(t.check("a").is_err());
        for _ in 0..5 {
            t.check("b").unwrap();
        }
    }

    #[test]
    fn zero_disables() {
        let (_ticker, t) = throttle(0, 0);
        for _ in 0..10_000 {
            t.check("a").unwrap();
        }
        assert_eq!(t.tenants(), 0);
    }

    #[test]
    fn idle_tenants_are_forgotten() {
        let (ticker, t) = throttle(100, 100);
        for n in 0..5_000 {
            t.check(&format!("t{n}")).unwrap();
            if n % 1_000 == 999 {
                // Long enough for every bucket to refill.
                ticker.advance(Duration::from_secs(2));
            }
        }
        assert!(t.tenants() <= 2 * MIN_SWEEP, "{}", t.tenants());
    }
}
