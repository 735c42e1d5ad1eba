//! The timeline counter guards the visit (issue #11): a run whose commit
//! writes the item's timeline counter conditionally, and read it carrying
//! the run's visit, commits without a check of the item's version. Every
//! write that starts a new visit or deletes the item moves the counter, so
//! such a run still never commits after its visit ended.

use crate::common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::*;
use crm_core::Engine;
use crm_core::RunOutcome;
use crm_core::hooked_store::{HookedStore, TransactHook};
use crm_core::memory::MemRuntime;
use crm_core::model::RunStatus;
use crm_core::ports::{Clock, DocStore, Job, Kind, StoreError, Write};
use serde_json::json;

/// What happens to the item between the run's reads and its first commit.
#[derive(Clone, Copy)]
enum Meanwhile {
    Nothing,
    Moved,
    FieldChanged,
    Deleted,
}

/// A transaction hook that records the transactions given to it and,
/// before the first one, lets a person change the item (through the engine
/// on the inner store).
struct Interfering {
    other: Engine,
    item: String,
    meanwhile: Meanwhile,
    commits: Mutex<Vec<Vec<Write>>>,
}

#[async_trait]
impl TransactHook for Interfering {
    async fn transact(&self, inner: &dyn DocStore, writes: Vec<Write>) -> Result<(), StoreError> {
        let first = {
            let mut c = self.commits.lock().unwrap();
            c.push(writes.clone());
            c.len() == 1
        };
        if first {
            let patch = |v| self.other.patch_item(T, &self.item, body(v), None);
            match self.meanwhile {
                Meanwhile::Nothing => {}
                Meanwhile::Moved => drop(patch(json!({"stage_id": "won"})).await.unwrap()),
                Meanwhile::FieldChanged => {
                    drop(patch(json!({"title": "Renamed"})).await.unwrap());
                }
                Meanwhile::Deleted => self.other.delete_item(T, &self.item, None).await.unwrap(),
            }
        }
        inner.transact(writes).await
    }
}

/// A deal with a commenting robot on `prep`, created in `new` and moved to
/// `prep` (`moved`) or created in `prep`: the runtime, the item id and the
/// robot's queued job (planned, not run).
async fn queued_comment(moved: bool) -> (MemRuntime, String, Job) {
    // Without claims, as on AWS and the local worker: the commit is the
    // run's first write.
    let config = crm_core::EngineConfig {
        claim_runs: false,
        ..Default::default()
    };
    let rt = MemRuntime::with_config(at(MONDAY_1144_MSK), config);
    crm_core::testing::load(&rt.engine, T).await.unwrap();
    robot(
        &rt,
        json!({"stage_id": "prep", "type": "add_timeline_comment",
            "settings": {"text": "About {{title}}"}}),
    )
    .await;
    let start = if moved { "new" } else { "prep" };
    let item = rt
        .engine
        .create_item(
            T,
            body(
                json!({"pipeline_id": "deals", "stage_id": start, "title": "Site",
                "responsible_id": "u-anna"}),
            ),
        )
        .await
        .unwrap();
    if moved {
        rt.engine
            .patch_item(T, &item.id, body(json!({"stage_id": "prep"})), None)
            .await
            .unwrap();
    }
    for d in rt.engine.pending_outbox().await.unwrap() {
        rt.engine.process_outbox(d).await.unwrap();
    }
    let job = rt.jobs.pop_due(rt.clock.now()).expect("the run is queued");
    (rt, item.id, job)
}

async fn run_with(
    rt: &MemRuntime,
    item: &str,
    job: Job,
    meanwhile: Meanwhile,
) -> (RunOutcome, Vec<Vec<Write>>) {
    let store = Arc::new(HookedStore::new(
        rt.engine.ports().store.clone(),
        Interfering {
            other: rt.engine.clone(),
            item: item.to_string(),
            meanwhile,
            commits: Mutex::default(),
        },
    ));
    let engine = engine_on(rt, store.clone(), rt.engine.config().clone());
    let outcome = engine.run_job(job).await.unwrap();
    let commits = store.hook().commits.lock().unwrap().clone();
    (outcome, commits)
}

fn checks_item(writes: &[Write], item: &str) -> bool {
    writes
        .iter()
        .any(|w| matches!(w, Write::Check { key, .. } if key.kind == Kind::Item && key.id == item))
}

#[tokio::test]
async fn a_run_guarded_by_the_counter_commits_without_checking_the_item() {
    let (rt, item, job) = queued_comment(true).await;
    let (outcome, commits) = run_with(&rt, &item, job, Meanwhile::Nothing).await;
    assert_eq!(outcome, RunOutcome::Finished(RunStatus::Done));
    assert_eq!(commits.len(), 1);
    assert!(!checks_item(&commits[0], &item), "{:#?}", commits[0]);
    assert_eq!(comments(&rt, &item).await, ["About Site"]);
}

#[tokio::test]
async fn a_move_between_the_reads_and_the_commit_cancels_the_run() {
    let (rt, item, job) = queued_comment(true).await;
    let (outcome, commits) = run_with(&rt, &item, job, Meanwhile::Moved).await;
    assert!(
        !checks_item(&commits[0], &item),
        "the counter was the guard"
    );
    assert_eq!(outcome, RunOutcome::Finished(RunStatus::Cancelled));
    assert!(
        comments(&rt, &item).await.is_empty(),
        "nothing after the visit ended"
    );
    let run = runs(&rt, &item).await.pop().unwrap();
    assert!(
        run.reason
            .as_deref()
            .unwrap_or_default()
            .contains("left stage 'prep'"),
        "{run:?}"
    );
}

#[tokio::test]
async fn a_deletion_between_the_reads_and_the_commit_cancels_the_run() {
    let (rt, item, job) = queued_comment(true).await;
    let (outcome, _) = run_with(&rt, &item, job, Meanwhile::Deleted).await;
    assert_eq!(outcome, RunOutcome::Finished(RunStatus::Cancelled));
    assert!(comments(&rt, &item).await.is_empty());
}

/// Only the visit is guarded: a field changed meanwhile does not make the
/// run start over. It ran on the item as it read it (the old title), and its
/// comment is listed where that puts it: before the change's entry (same
/// instant on this clock, an older item version; on a running clock, an
/// earlier time).
#[tokio::test]
async fn a_field_change_between_the_reads_and_the_commit_does_not_redo_the_run() {
    let (rt, item, job) = queued_comment(true).await;
    let (outcome, commits) = run_with(&rt, &item, job, Meanwhile::FieldChanged).await;
    assert_eq!(outcome, RunOutcome::Finished(RunStatus::Done));
    assert_eq!(commits.len(), 1, "committed at its first attempt: no retry");
    assert_eq!(comments(&rt, &item).await, ["About Site"]);
    let kinds: Vec<String> = rt
        .engine
        .timeline(T, &item)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds.iter().rev().take(2).collect::<Vec<_>>(),
        ["fields_changed", "comment"],
        "{kinds:?}"
    );
}

/// An item that has not changed visit since the change (its counter carries
/// no visit): the commit checks the item's version, as before.
#[tokio::test]
async fn a_first_visit_is_guarded_by_the_items_version() {
    let (rt, item, job) = queued_comment(false).await;
    let (outcome, commits) = run_with(&rt, &item, job, Meanwhile::Moved).await;
    assert!(checks_item(&commits[0], &item), "{:#?}", commits[0]);
    assert_eq!(outcome, RunOutcome::Finished(RunStatus::Cancelled));
    assert!(comments(&rt, &item).await.is_empty());
}
