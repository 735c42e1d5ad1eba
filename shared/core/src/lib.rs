//! crm-core: the robots-and-triggers engine. Pure: no I/O, no AWS, no system clock.
pub mod api;
pub mod automation;
pub mod condition;
pub mod context;
pub mod delay;
pub mod dispatch;
pub mod engine;
pub mod error;
pub mod memory;
pub mod model;
pub mod ports;
pub mod runner;
pub mod system;
pub mod template;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod triggers;
pub mod validate;
pub mod workhours;
pub use engine::{Engine, EngineConfig};
