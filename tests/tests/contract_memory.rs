//! The contract suite on the in-memory reference adapters.

use chrono::{DateTime, Utc};
use crm_core::memory::{MemJobs, MemStore};
use crm_core::ports::Job;
use crm_tests::contract::{self, BoxFuture, DrainJobs};

/// Drains a [`MemJobs`] with `pop_due`.
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
