//! The integration tests of this crate, one module per former test file, built as ONE test
//! binary (one link, one copy of the dependencies' generic code) instead of one per file.
//! Run one suite: `cargo nextest run -p <crate> --test suite <module>::`.

mod app_robots;
mod common;
mod crash;
mod documents;
mod email_attachments;
mod fairness;
mod inbound_email;
mod keys_cli;
mod outbound_senders;
mod outward;
mod retention;
mod run_control;
mod runtime;
mod safety;
mod scenarios;
mod tracking;
mod web_forms;
mod webhooks;
