//! [`PublicLimiter`]: the request limit of the public, keyless endpoints
//! (web forms, the site tracker's beacon, payment webhooks).
//!
//! Fixed windows per key (e.g. `form|<ip>|<form id>`): at most `limit`
//! requests in each window of `window`; past that, 429 with `Retry-After`
//! (whole seconds until the window ends, at least 1). The limit is per
//! process: on AWS each warm instance of the api function counts apart, so
//! a sender spread over instances gets at most that many times the limit
//! (API Gateway's stage throttle caps the whole).
//!
//! Memory stays bounded: at most [`MAX_KEYS`] windows are kept; when full,
//! ended windows are dropped, and if none has ended the new key is refused
//! (a flood of new keys cannot grow the map).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::ticker::{SystemTicker, Ticker};

/// Most windows kept at once.
pub const MAX_KEYS: usize = 100_000;

/// One limit: `limit` requests per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Requests allowed per window.
    pub limit: u32,
    /// The window's length.
    pub window: Duration,
}

/// Web form posts: 10 a minute per client IP and form.
pub const FORM_POSTS: Limit = Limit {
    limit: 10,
    window: Duration::from_secs(60),
};
/// Form pages and scripts: 120 a minute per client IP.
pub const FORM_PAGES: Limit = Limit {
    limit: 120,
    window: Duration::from_secs(60),
};
/// Tracker beacons: 120 a minute per client IP.
pub const BEACONS: Limit = Limit {
    limit: 120,
    window: Duration::from_secs(60),
};
/// Payment webhooks: 300 a minute per endpoint.
pub const PAYMENT_WEBHOOKS: Limit = Limit {
    limit: 300,
    window: Duration::from_secs(60),
};

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Duration,
    count: u32,
}

/// Fixed-window counters per key.
pub struct PublicLimiter {
    ticker: Arc<dyn Ticker>,
    windows: Mutex<HashMap<String, Window>>,
}

impl std::fmt::Debug for PublicLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicLimiter").finish_non_exhaustive()
    }
}

impl Default for PublicLimiter {
    fn default() -> Self {
        Self::new(Arc::new(SystemTicker::new()))
    }
}

impl PublicLimiter {
    /// A limiter reading time from `ticker`.
    pub fn new(ticker: Arc<dyn Ticker>) -> Self {
        PublicLimiter {
            ticker,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Count one request of `key` under `limit`: `Err(seconds)` to wait
    /// when over it.
    pub fn check(&self, key: &str, limit: Limit) -> Result<(), u64> {
        let now = self.ticker.elapsed();
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let ended = |w: &Window| now.saturating_sub(w.started) >= limit.window;
        if !windows.contains_key(key) && windows.len() >= MAX_KEYS {
            windows.retain(|_, w| now.saturating_sub(w.started) < limit.window);
            if windows.len() >= MAX_KEYS {
                return Err(limit.window.as_secs().max(1));
            }
        }
        let w = windows.entry(key.to_string()).or_insert(Window {
            started: now,
            count: 0,
        });
        if ended(w) {
            *w = Window {
                started: now,
                count: 0,
            };
        }
        if w.count >= limit.limit {
            let left = limit.window.saturating_sub(now.saturating_sub(w.started));
            return Err(left.as_secs_f64().ceil().max(1.0) as u64);
        }
        w.count += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticker::ManualTicker;

    #[test]
    fn a_key_gets_its_limit_per_window_and_others_are_apart() {
        let ticker = Arc::new(ManualTicker::new());
        let l = PublicLimiter::new(ticker.clone());
        for _ in 0..10 {
            assert_eq!(l.check("a", FORM_POSTS), Ok(()));
        }
        assert_eq!(l.check("a", FORM_POSTS), Err(60));
        assert_eq!(l.check("b", FORM_POSTS), Ok(()));
        ticker.advance(Duration::from_secs(45));
        assert_eq!(l.check("a", FORM_POSTS), Err(15));
        ticker.advance(Duration::from_secs(15));
        assert_eq!(l.check("a", FORM_POSTS), Ok(()));
    }
}
