//! The flows of the engine, each named after the function that runs it:
//!
//! - [`stage_change`]: the transactional-outbox records (`process_outbox`):
//!   ending visits, planning robots, raising change events, delivering messages;
//!   [`pending_outbox`]: how the local runtime reads them, a tenant's page at a time;
//! - [`trigger_eval`]: queued events (`handle_event`);
//! - [`robot_run`]: robot jobs, exactly once (`run_job`, `run_jobs`);
//! - [`batch_reads`]: the store as one batch of runs sees it;
//! - [`visit_job`]: a visit's immediate runs as one job and one commit
//!   (`run_visit_job`), with [`overlay_store`] and [`compose_writes`].

pub mod batch_reads;
pub(crate) mod compose_writes;
pub mod event_items;
pub(crate) mod overlay_store;
pub mod pending_outbox;
pub mod robot_run;
pub mod stage_change;
pub mod task_chain;
pub mod trigger_eval;
pub mod visit_job;
