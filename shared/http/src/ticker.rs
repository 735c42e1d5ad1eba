//! Monotonic time for the key cache and the per-tenant throttle.
//!
//! Not the engine's clock: the local server's manual clock stands still until
//! it is advanced, and a rate limit or a cache TTL must keep running. Tests
//! inject a [`ManualTicker`] so that "after the TTL" and "one second later"
//! are exact.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Time elapsed since some fixed start; never goes back.
pub trait Ticker: Send + Sync {
    /// Elapsed time since the ticker's start.
    fn elapsed(&self) -> Duration;
}

/// Real monotonic time ([`Instant`]).
#[derive(Debug, Clone, Copy)]
pub struct SystemTicker {
    start: Instant,
}

impl SystemTicker {
    /// Starts now.
    pub fn new() -> Self {
        SystemTicker {
            start: Instant::now(),
        }
    }
}

impl Default for SystemTicker {
    fn default() -> Self {
        Self::new()
    }
}

impl Ticker for SystemTicker {
    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

/// Time that moves only when told (tests).
#[derive(Debug, Default)]
pub struct ManualTicker {
    nanos: AtomicU64,
}

impl ManualTicker {
    /// At zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(by, Ordering::SeqCst);
    }
}

impl Ticker for ManualTicker {
    fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}
