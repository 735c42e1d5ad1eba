//! The integration tests of this crate, one module per former test file, built as ONE test
//! binary (one link, one copy of the dependencies' generic code) instead of one per file.
//! Run one suite: `cargo nextest run -p <crate> --test suite <module>::`.

mod app_contract;
mod app_contract_aws;
mod aws_app_robots;
mod aws_cost;
mod aws_documents;
mod aws_faults;
mod aws_inbound;
mod aws_outbox_faults;
mod aws_outward;
mod aws_public;
mod aws_run_control;
mod aws_scenarios;
mod aws_senders;
mod aws_tracking;
mod aws_visit_jobs;
mod aws_webhooks;
mod bitrix_contract;
mod bitrix_contract_aws;
mod contract_aws;
mod contract_blobs;
mod contract_embedded;
mod contract_keys;
mod contract_memory;
mod documents_numbering;
mod public_contract;
mod public_contract_aws;
mod report_contract;
mod report_contract_aws;
mod report_reads;
mod retention_contract;
