//! The contract suite on the in-memory reference adapters.

use chrono::{DateTime, Utc};
use crm_core::memory::{MemEvents, MemJobs, MemStore};
use crm_core::ports::Job;
use crm_tests::contract::{self, BoxFuture, DrainJobs, TakeAndAck, TakeAndAckEvents};

/// Drains a [`MemJobs`] with `pop_due` (what `MemRuntime` does).
struct Drain<'a>(&'a MemJobs);

impl DrainJobs for Drain<'_> {
    fn take_due(&self, now: DateTime<Utc>) -> BoxFuture<'_, Vec<Job>> {
        Box::pin(async move { std::iter::from_fn(|| self.0.pop_due(now)).collect() })
    }
}

#[tokio::test]
async fn mem_store_passes_the_store_contract() {
    let store = MemStore::new();
    contract::run_all_store(&store, &contract::unique_tenant("mem")).await;
}

#[tokio::test]
async fn mem_jobs_pass_the_jobs_contract() {
    let jobs = MemJobs::new();
    contract::run_all_jobs(&jobs, &jobs, &Drain(&jobs), &contract::unique_tenant("mem")).await;
}

#[tokio::test]
async fn mem_jobs_pass_the_jobs_contract_through_take_and_ack() {
    let jobs = MemJobs::new();
    contract::run_all_jobs(
        &jobs,
        &jobs,
        &TakeAndAck(&jobs),
        &contract::unique_tenant("mem"),
    )
    .await;
}

/// In-memory queues hold typed values: nothing to park, so no parking checks.
#[tokio::test]
async fn mem_jobs_pass_the_due_jobs_contract() {
    let jobs = MemJobs::new();
    contract::run_all_due_jobs(&jobs, &jobs, &jobs, None, &contract::unique_tenant("mem")).await;
    assert!(jobs.is_empty(), "every check acked what it stored");
}

#[tokio::test]
async fn mem_events_pass_the_events_contract() {
    let events = MemEvents::new();
    let tenant = contract::unique_tenant("mem");
    contract::run_all_events(&events, &TakeAndAckEvents(&events), &tenant).await;
    contract::run_all_queued_events(&events, &events, None, &tenant).await;
    assert!(events.is_empty(), "every check acked what it sent");
}

#[tokio::test]
async fn mem_store_pages_every_list() {
    let store = std::sync::Arc::new(MemStore::new());
    crm_tests::list_contract::run_all_lists(store, &contract::unique_tenant("mem")).await;
}

#[tokio::test]
async fn mem_store_keeps_audiences() {
    let store = std::sync::Arc::new(MemStore::new());
    crm_tests::audience_contract::run_all_audiences(store, &contract::unique_tenant("mem")).await;
}

#[tokio::test]
async fn mem_store_keeps_tracking_keys() {
    let store = std::sync::Arc::new(MemStore::new());
    crm_tests::tracking_contract::run_all_tracking(store, &contract::unique_tenant("mem")).await;
}

#[tokio::test]
async fn mem_store_keeps_inbound_addresses() {
    let store = std::sync::Arc::new(MemStore::new());
    crm_tests::inbound_contract::run_all_inbound(store, &contract::unique_tenant("mem")).await;
}
