//! The engine the contract suites run on a store: `store` for documents,
//! fresh in-memory adapters for everything else, the clock at Monday
//! 2026-11-23 09:00 UTC.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use crm_core::engine::{Engine, EngineConfig};
use crm_core::memory::{ManualClock, ports_on};
use crm_core::ports::DocStore;

/// A fresh engine on `store` (its own caches: another process).
pub fn engine(store: Arc<dyn DocStore>) -> Engine {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
    ));
    Engine::new(ports_on(store, clock), EngineConfig::default())
}
