//! Runs without a claim (`claim_runs: false`, as on AWS since issue #11):
//! the commit, guarded by the run record's version and the item's visit, is
//! the only write of a run. Two deliveries of one job that overlap both
//! compute the action; one commits, the other's commit fails and it finds
//! the run final: one effect.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use common::*;
use crm_core::memory::MemRuntime;
use crm_core::model::RunStatus;
use crm_core::ports::{Clock, Doc, DocKey, DocStore, Job, Kind, StoreError, Write};
use crm_core::{Engine, EngineConfig, RunOutcome};
use serde_json::json;

/// A store that, at the first commit it is given, lets `other` run `job` to
/// its end first: a second delivery overtaking the first between its reads
/// and its commit.
struct Overtaken {
    inner: Arc<dyn DocStore>,
    other: Engine,
    job: Job,
    done: AtomicBool,
    outcome: std::sync::Mutex<Option<RunOutcome>>,
}

#[async_trait]
impl DocStore for Overtaken {
    async fn get(&self, key: &DocKey) -> Result<Option<Doc>, StoreError> {
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[DocKey]) -> Result<Vec<Option<Doc>>, StoreError> {
        self.inner.get_many(keys).await
    }
    async fn list(&self, tenant: &str, kind: Kind, parent: &str) -> Result<Vec<Doc>, StoreError> {
        self.inner.list(tenant, kind, parent).await
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        if !self.done.swap(true, Ordering::SeqCst) {
            let got = self.other.run_job(self.job.clone()).await.unwrap();
            *self.outcome.lock().unwrap() = Some(got);
        }
        self.inner.transact(writes).await
    }
}

fn unclaimed() -> EngineConfig {
    EngineConfig {
        claim_runs: false,
        ..Default::default()
    }
}

/// A runtime without claims, a create_task robot on `new` and a new deal
/// whose run is queued: the runtime and the run's job.
async fn queued_task_run() -> (MemRuntime, String, Job) {
    let rt = MemRuntime::with_config(at(MONDAY_1144_MSK), unclaimed());
    crm_core::testing::load(&rt.engine, T).await.unwrap();
    robot(
        &rt,
        json!({"stage_id": "new", "type": "create_task", "settings": {"title": "Call {{title}}"}}),
    )
    .await;
    let item = rt
        .engine
        .create_item(
            T,
            body(json!({"pipeline_id": "deals", "title": "X", "responsible_id": "u-anna"})),
        )
        .await
        .unwrap();
    for d in rt.engine.pending_outbox().await.unwrap() {
        rt.engine.process_outbox(d).await.unwrap();
    }
    let job = rt.jobs.pop_due(rt.clock.now()).expect("the run is queued");
    (rt, item.id, job)
}

#[tokio::test]
async fn a_delivery_overtaken_by_a_duplicate_loses_its_commit_and_adds_nothing() {
    let (rt, item, job) = queued_task_run().await;
    let overtaken = Arc::new(Overtaken {
        inner: rt.engine.ports().store.clone(),
        other: rt.engine.clone(),
        job: job.clone(),
        done: AtomicBool::new(false),
        outcome: Default::default(),
    });
    let first = engine_on(&rt, overtaken.clone(), unclaimed());
    // Both computed the task; the duplicate committed first.
    assert_eq!(
        first.run_job(job.clone()).await.unwrap(),
        RunOutcome::AlreadyFinished
    );
    assert_eq!(
        overtaken.outcome.lock().unwrap().clone(),
        Some(RunOutcome::Finished(RunStatus::Done))
    );
    let tasks = rt.engine.list_tasks(T, &item).await.unwrap();
    assert_eq!(tasks.len(), 1, "one effect: {tasks:?}");
    assert_eq!(tasks[0].title, "Call X");
    let all = runs(&rt, &item).await;
    assert_eq!(all.len(), 1);
    assert_eq!((all[0].status, all[0].attempts), (RunStatus::Done, 1));
    assert_eq!(
        rt.engine.run_job(job).await.unwrap(),
        RunOutcome::AlreadyFinished
    );
}

#[tokio::test]
async fn a_run_performed_without_a_claim_is_never_seen_running_and_commits_once() {
    let (rt, item, job) = queued_task_run().await;
    assert_eq!(runs(&rt, &item).await[0].status, RunStatus::Pending);
    let (a, b) = tokio::join!(
        rt.engine.run_job(job.clone()),
        rt.engine.run_job(job.clone())
    );
    let mut outcomes = [a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(
        outcomes,
        [
            RunOutcome::AlreadyFinished,
            RunOutcome::Finished(RunStatus::Done)
        ]
    );
    assert_eq!(rt.engine.list_tasks(T, &item).await.unwrap().len(), 1);
    let run = runs(&rt, &item).await.remove(0);
    assert_eq!((run.status, run.claim_until), (RunStatus::Done, None));
}

/// A store that counts the reads made through it.
struct CountingReads {
    inner: Arc<dyn DocStore>,
    reads: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl DocStore for CountingReads {
    async fn get(&self, key: &DocKey) -> Result<Option<Doc>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[DocKey]) -> Result<Vec<Option<Doc>>, StoreError> {
        self.reads.fetch_add(keys.len(), Ordering::SeqCst);
        self.inner.get_many(keys).await
    }
    async fn list(&self, tenant: &str, kind: Kind, parent: &str) -> Result<Vec<Doc>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.list(tenant, kind, parent).await
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.inner.transact(writes).await
    }
}

/// A job delivered before its due time (on AWS a schedule fires up to two
/// minutes early, by design) is put back for exactly the rest, and reads
/// nothing to find that out (issue #11); at its due time it runs once.
#[tokio::test]
async fn a_job_delivered_early_is_put_back_for_the_rest_without_a_read() {
    let (rt, item, job) = queued_task_run().await;
    let due = job.due_at + chrono::Duration::minutes(30);
    let early = Job {
        due_at: due,
        ..job.clone()
    };
    let counting = Arc::new(CountingReads {
        inner: rt.engine.ports().store.clone(),
        reads: Default::default(),
    });
    let engine = engine_on(&rt, counting.clone(), unclaimed());
    assert_eq!(
        engine.run_job(early.clone()).await.unwrap(),
        RunOutcome::Rescheduled
    );
    assert_eq!(counting.reads.load(Ordering::SeqCst), 0, "nothing read");
    assert_eq!(runs(&rt, &item).await[0].status, RunStatus::Pending);
    assert!(rt.engine.list_tasks(T, &item).await.unwrap().is_empty());
    // Put back for exactly its due time, not a second earlier.
    assert_eq!(rt.jobs.next_due(), Some(due));
    assert!(
        rt.jobs
            .pop_due(due - chrono::Duration::seconds(1))
            .is_none()
    );
    rt.clock.set(due);
    let again = rt.jobs.pop_due(due).expect("due now");
    assert_eq!(again, early);
    assert_eq!(
        rt.engine.run_job(again).await.unwrap(),
        RunOutcome::Finished(RunStatus::Done)
    );
    assert_eq!(rt.engine.list_tasks(T, &item).await.unwrap().len(), 1);
}
