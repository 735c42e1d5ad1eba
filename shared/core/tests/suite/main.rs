//! The integration tests of this crate, one module per former test file, built as ONE test
//! binary (one link, one copy of the dependencies' generic code) instead of one per file.
//! Run one suite: `cargo nextest run -p <crate> --test suite <module>::`.

mod app_robots;
mod automation_limits;
mod common;
mod complete_task_reads;
mod decisions;
mod deleted_robot_runs;
mod documents;
mod email_attachments;
mod event_fan_out;
mod exact_semantics;
mod inbound;
mod outbound;
mod outward;
mod reports;
mod rules;
mod run_control;
mod run_delivery;
mod run_log;
mod scenarios;
mod single_writes;
mod stage_robot_reports;
mod task_chains;
mod unclaimed_runs;
mod visit_guard;
mod visit_job;
mod visit_runs;
mod webhooks;
