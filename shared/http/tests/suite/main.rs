//! The integration tests of this crate, one module per former test file, built as ONE test
//! binary (one link, one copy of the dependencies' generic code) instead of one per file.
//! Run one suite: `cargo nextest run -p <crate> --test suite <module>::`.

mod bitrix;
mod common;
mod directory;
mod endpoints;
mod errors;
mod inbound_email;
mod item_list;
mod keys;
mod openapi;
mod reports;
mod roles;
mod run_control;
mod security_headers;
mod timeline;
mod tracker_payments;
mod tracking;
mod user_work;
mod web_forms;
