//! crm-core: the robots-and-triggers engine. Pure: no I/O, no AWS, no system clock.
//!
//! Where things live: `robots/` (one file per robot type, one catalogue),
//! `triggers/` (one file per trigger type, selection), `flows/` (stage change,
//! trigger evaluation, robot run), `engine/` (the API operations), `store`
//! (records ↔ documents), `ports` (the outside world), `memory` (in-memory
//! adapters for tests).
pub mod api;
pub mod api_keys;
pub mod apps;
pub mod audiences;
pub mod bitrix;
pub mod blob_store;
pub mod catalogue;
pub mod check;
pub mod client_index;
pub mod condition;
pub mod context;
pub mod delay;
pub mod documents;
pub mod engine;
pub mod error;
pub mod fields;
pub mod flows;
pub mod hooked_store;
pub mod http_call;
pub mod inbound;
pub mod memory;
pub mod memory_blobs;
pub mod memory_http;
pub mod model;
pub mod money;
pub mod outbound;
pub mod payments;
pub mod planning;
pub mod ports;
pub mod public_id;
#[cfg(any(test, feature = "testing"))]
pub mod report_history;
pub mod reports;
pub mod retention;
pub mod robots;
pub mod site_tracker;
pub mod store;
pub mod system;
pub mod template;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tracking;
pub mod triggers;
pub mod user_work;
pub mod web_forms;
pub mod webhook;
pub mod work_source;
pub mod workhours;
pub use engine::{Engine, EngineConfig, MAX_PER_PIPELINE, MAX_PER_STAGE};
pub use flows::robot_run::RunOutcome;
pub use flows::visit_job::{MAX_VISIT_JOB_RUNS, job_outcome};
