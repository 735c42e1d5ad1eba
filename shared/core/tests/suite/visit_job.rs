//! Visit jobs (issue #11): a stage change's immediate robots go out as ONE
//! job, run in robot order and commit in ONE transaction, exactly once,
//! guarded by the item's visit — and anything unusual falls back to the
//! one-run-at-a-time path.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use common::*;
use crm_core::hooked_store::{HookedStore, TransactHook};
use crm_core::memory::MemRuntime;
use crm_core::model::RunStatus;
use crm_core::ports::{Clock, DocStore, Job, StoreError, Write};
use crm_core::robots::Robot;
use crm_core::{Engine, EngineConfig, RunOutcome};
use serde_json::{Value, json};

fn unclaimed() -> EngineConfig {
    EngineConfig {
        claim_runs: false,
        ..Default::default()
    }
}

/// Counts the transactions it is given; the first `fail` of them conflict
/// (nothing written); `overtake`: before the first one, another engine
/// runs a job to its end.
#[derive(Default)]
struct Commits {
    count: AtomicUsize,
    fail: AtomicUsize,
    overtake: std::sync::Mutex<Option<(Engine, Job)>>,
    overtaken: AtomicBool,
    other: std::sync::Mutex<Vec<(String, RunOutcome)>>,
}

/// [`Commits`] as the hook of a store.
struct Watch(Arc<Commits>);

#[async_trait]
impl TransactHook for Watch {
    async fn transact(&self, inner: &dyn DocStore, writes: Vec<Write>) -> Result<(), StoreError> {
        let this = &*self.0;
        let overtake = this.overtake.lock().unwrap().clone();
        if let Some((other, job)) = overtake
            && !this.overtaken.swap(true, Ordering::SeqCst)
        {
            // A second delivery of the job runs to its end between this
            // delivery's reads and its commit.
            *this.other.lock().unwrap() = other.run_visit_job(job).await.unwrap();
        }
        this.count.fetch_add(1, Ordering::SeqCst);
        if this
            .fail
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(StoreError::Conflict {
                key: "injected".into(),
            });
        }
        inner.transact(writes).await
    }
}

/// The runtime's engine over a store that counts (and may disturb) commits.
fn watched(rt: &MemRuntime) -> (Engine, Arc<Commits>) {
    let commits = Arc::new(Commits::default());
    let store = Arc::new(HookedStore::new(rt.store.clone(), Watch(commits.clone())));
    let engine = engine_on(rt, store, unclaimed());
    (engine, commits)
}

fn comment(text: &str) -> Value {
    json!({"stage_id": "new", "type": "add_timeline_comment", "settings": {"text": text}})
}

/// A runtime without claims, the robots `robots` on `new`, and a new deal
/// planned (not run): the runtime, the deal's id and the robots.
async fn planned(robots: Vec<Value>) -> (MemRuntime, String, Vec<Robot>) {
    let rt = MemRuntime::with_config(at(MONDAY_1144_MSK), unclaimed());
    crm_core::testing::load(&rt.engine, T).await.unwrap();
    let mut made = Vec::new();
    for r in robots {
        made.push(robot(&rt, r).await);
    }
    let item = rt
        .engine
        .create_item(
            T,
            body(json!({"pipeline_id": "deals", "title": "Website", "responsible_id": "u-anna"})),
        )
        .await
        .unwrap();
    for d in rt.engine.pending_outbox().await.unwrap() {
        rt.engine.process_outbox(d).await.unwrap();
    }
    (rt, item.id, made)
}

async fn five_comments() -> (MemRuntime, String, Vec<Robot>) {
    planned((1..=5).map(|n| comment(&format!("c{n}"))).collect()).await
}

/// The one job the planning queued.
fn the_job(rt: &MemRuntime) -> Job {
    let job = rt.jobs.pop_due(rt.clock.now()).expect("a job is queued");
    assert!(
        rt.jobs.pop_due(rt.clock.now()).is_none(),
        "one job for the visit"
    );
    job
}

fn all(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|t| t.to_string()).collect()
}

async fn statuses(rt: &MemRuntime, item: &str, robots: &[Robot]) -> Vec<RunStatus> {
    let runs = runs(rt, item).await;
    robots.iter().map(|r| run_of(&runs, &r.id).status).collect()
}

#[tokio::test]
async fn five_immediate_robots_are_one_job_and_one_commit_in_robot_order() {
    let (rt, item, robots) = five_comments().await;
    let job = the_job(&rt);
    let ids: Vec<String> = robots
        .iter()
        .map(|r| crm_core::planning::run_id(&item, 1, &r.id))
        .collect();
    assert_eq!(job.run_id, ids[0]);
    assert_eq!(job.then, ids[1..].to_vec());
    let (engine, commits) = watched(&rt);
    let outcomes = engine.run_visit_job(job).await.unwrap();
    assert_eq!(
        outcomes,
        ids.iter()
            .map(|id| (id.clone(), RunOutcome::Finished(RunStatus::Done)))
            .collect::<Vec<_>>()
    );
    assert_eq!(commits.count.load(Ordering::SeqCst), 1, "one commit");
    assert_eq!(
        comments(&rt, &item).await,
        all(&["c1", "c2", "c3", "c4", "c5"])
    );
    assert_eq!(
        statuses(&rt, &item, &robots).await,
        vec![RunStatus::Done; 5]
    );
    for r in runs(&rt, &item).await {
        assert_eq!(r.attempts, 1, "{r:?}");
        assert!(r.finished_at.is_some());
    }
    // Five entries under one timeline counter: five distinct, ordered ids.
    let timeline = rt.engine.timeline(T, &item).await.unwrap();
    let mut ids: Vec<&str> = timeline.iter().map(|e| e.id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), timeline.len());
}

#[tokio::test]
async fn the_same_visit_job_delivered_twice_has_one_effect_per_run() {
    let (rt, item, _) = five_comments().await;
    let job = the_job(&rt);
    rt.engine.run_visit_job(job.clone()).await.unwrap();
    let (engine, commits) = watched(&rt);
    let again = engine.run_visit_job(job.clone()).await.unwrap();
    assert!(
        again.iter().all(|(_, o)| *o == RunOutcome::AlreadyFinished),
        "{again:?}"
    );
    assert_eq!(commits.count.load(Ordering::SeqCst), 0, "nothing written");
    assert_eq!(
        rt.engine.run_job(job).await.unwrap(),
        RunOutcome::AlreadyFinished
    );
    assert_eq!(comments(&rt, &item).await.len(), 5);
}

#[tokio::test]
async fn a_delivery_overtaken_by_a_duplicate_commits_nothing_twice() {
    let (rt, item, robots) = five_comments().await;
    let job = the_job(&rt);
    let (engine, commits) = watched(&rt);
    *commits.overtake.lock().unwrap() = Some((rt.engine.clone(), job.clone()));
    let first = engine.run_visit_job(job).await.unwrap();
    // The duplicate committed all five; this one's composed commit lost
    // and its fallback found every run final.
    assert!(
        first.iter().all(|(_, o)| *o == RunOutcome::AlreadyFinished),
        "{first:?}"
    );
    let other = commits.other.lock().unwrap().clone();
    assert!(
        other
            .iter()
            .all(|(_, o)| *o == RunOutcome::Finished(RunStatus::Done)),
        "{other:?}"
    );
    assert_eq!(
        comments(&rt, &item).await,
        all(&["c1", "c2", "c3", "c4", "c5"])
    );
    assert_eq!(
        statuses(&rt, &item, &robots).await,
        vec![RunStatus::Done; 5]
    );
}

#[tokio::test]
async fn two_deliveries_at_once_have_one_effect_per_run() {
    let (rt, item, _) = five_comments().await;
    let job = the_job(&rt);
    let (a, b) = tokio::join!(
        rt.engine.run_visit_job(job.clone()),
        rt.engine.run_visit_job(job.clone())
    );
    let finished = a
        .unwrap()
        .into_iter()
        .chain(b.unwrap())
        .filter(|(_, o)| matches!(o, RunOutcome::Finished(_)))
        .count();
    assert_eq!(finished, 5);
    assert_eq!(comments(&rt, &item).await.len(), 5);
}

#[tokio::test]
async fn a_commit_that_fails_falls_back_to_one_run_at_a_time_exactly_once() {
    let (rt, item, robots) = five_comments().await;
    let job = the_job(&rt);
    let (engine, commits) = watched(&rt);
    commits.fail.store(1, Ordering::SeqCst);
    let outcomes = engine.run_visit_job(job).await.unwrap();
    assert!(
        outcomes
            .iter()
            .all(|(_, o)| *o == RunOutcome::Finished(RunStatus::Done)),
        "{outcomes:?}"
    );
    // The failed composed commit, then one commit per run.
    assert_eq!(commits.count.load(Ordering::SeqCst), 1 + 5);
    assert_eq!(
        comments(&rt, &item).await,
        all(&["c1", "c2", "c3", "c4", "c5"])
    );
    assert_eq!(
        statuses(&rt, &item, &robots).await,
        vec![RunStatus::Done; 5]
    );
}

#[tokio::test]
async fn a_robot_that_moves_the_item_cancels_the_later_runs_as_before() {
    let (rt, item, robots) = planned(vec![
        comment("c1"),
        json!({"stage_id": "new", "type": "change_stage", "settings": {"stage_id": "prep"}}),
        comment("c3"),
        comment("c4"),
        comment("c5"),
    ])
    .await;
    let job = the_job(&rt);
    let (engine, commits) = watched(&rt);
    engine.run_visit_job(job).await.unwrap();
    assert_eq!(commits.count.load(Ordering::SeqCst), 1, "one commit");
    let runs = runs(&rt, &item).await;
    let got: Vec<RunStatus> = robots.iter().map(|r| run_of(&runs, &r.id).status).collect();
    assert_eq!(
        got,
        vec![
            RunStatus::Done,
            RunStatus::Done,
            RunStatus::Cancelled,
            RunStatus::Cancelled,
            RunStatus::Cancelled
        ]
    );
    let reason = run_of(&runs, &robots[2].id).reason.clone().unwrap();
    assert!(reason.contains("left stage 'new'"), "{reason}");
    assert_eq!(comments(&rt, &item).await, all(&["c1"]));
    // The move goes on as any move: the new stage is planned, the old
    // visit's runs stay cancelled.
    rt.settle().await.unwrap();
    let moved = rt.engine.get_item(T, &item).await.unwrap();
    assert_eq!((moved.stage_id.as_str(), moved.visit), ("prep", 2));
    assert_eq!(
        statuses(&rt, &item, &robots[2..]).await,
        vec![RunStatus::Cancelled; 3]
    );
}

#[tokio::test]
async fn a_robot_reads_the_outputs_of_an_earlier_robot_of_the_same_job() {
    let rt_robots = vec![
        json!({"stage_id": "new", "type": "create_group_chat", "name": "Deal chat",
            "settings": {"name": "{{title}}", "member_ids": ["u-anna", "u-boss"]}}),
    ];
    let (rt, item, robots) = planned(rt_robots).await;
    // The robots that use the chat are added before a second deal is made.
    let chat = &robots[0];
    let uses = format!("{{{{robot.{}.chat_id}}}}", chat.id);
    robot(
        &rt,
        json!({"stage_id": "new", "type": "add_timeline_comment",
            "condition": {"field": format!("robot.{}.chat_id", chat.id), "op": "not_empty"},
            "settings": {"text": format!("chat {uses}")}}),
    )
    .await;
    robot(
        &rt,
        json!({"stage_id": "new", "type": "add_timeline_comment",
            "condition": {"field": format!("robot.{}.chat_id", chat.id), "op": "empty"},
            "settings": {"text": "no chat"}}),
    )
    .await;
    rt.jobs
        .pop_due(rt.clock.now())
        .expect("the first deal's job");
    let _ = item;
    let second = rt
        .engine
        .create_item(
            T,
            body(json!({"pipeline_id": "deals", "title": "Second", "responsible_id": "u-anna"})),
        )
        .await
        .unwrap();
    for d in rt.engine.pending_outbox().await.unwrap() {
        rt.engine.process_outbox(d).await.unwrap();
    }
    let job = the_job(&rt);
    assert_eq!(job.then.len(), 2);
    let (engine, commits) = watched(&rt);
    engine.run_visit_job(job).await.unwrap();
    assert_eq!(commits.count.load(Ordering::SeqCst), 1);
    let runs = runs(&rt, &second.id).await;
    let chat_id = run_of(&runs, &chat.id).outputs["chat_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        comments(&rt, &second.id).await,
        vec![format!("chat {chat_id}")]
    );
    let statuses: Vec<RunStatus> = runs.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == RunStatus::Skipped)
            .count(),
        1
    );
}

#[tokio::test]
async fn an_old_job_body_without_then_runs_its_one_run() {
    let (rt, item, robots) = five_comments().await;
    let job = the_job(&rt);
    let mut old: Value = serde_json::to_value(&job).unwrap();
    old.as_object_mut().unwrap().remove("then");
    let old: Job = serde_json::from_value(old).unwrap();
    assert!(old.then.is_empty());
    assert_eq!(
        rt.engine.run_job(old).await.unwrap(),
        RunOutcome::Finished(RunStatus::Done)
    );
    assert_eq!(comments(&rt, &item).await, all(&["c1"]));
    assert_eq!(
        statuses(&rt, &item, &robots[1..]).await,
        vec![RunStatus::Pending; 4]
    );
    // The visit job still runs the rest (the first one is final).
    let outcomes = rt.engine.run_visit_job(job).await.unwrap();
    assert_eq!(outcomes[0].1, RunOutcome::AlreadyFinished);
    assert_eq!(comments(&rt, &item).await.len(), 5);
}

#[tokio::test]
async fn the_local_batcher_runs_visit_jobs_of_several_items() {
    let (rt, first, _) = five_comments().await;
    let mut jobs = vec![the_job(&rt)];
    let second = rt
        .engine
        .create_item(
            T,
            body(json!({"pipeline_id": "deals", "title": "Other", "responsible_id": "u-anna"})),
        )
        .await
        .unwrap();
    for d in rt.engine.pending_outbox().await.unwrap() {
        rt.engine.process_outbox(d).await.unwrap();
    }
    jobs.push(the_job(&rt));
    // The first item's first run ran alone (an older job of one run): its
    // visit job still runs the other four.
    let alone = Job {
        then: Vec::new(),
        ..jobs[0].clone()
    };
    rt.engine.run_job(alone).await.unwrap();
    let outcomes = rt.engine.run_jobs(jobs).await.unwrap();
    assert_eq!(
        outcomes,
        vec![
            RunOutcome::AlreadyFinished,
            RunOutcome::Finished(RunStatus::Done)
        ],
        "one outcome per job: its first run's"
    );
    for item in [first, second.id] {
        assert_eq!(
            comments(&rt, &item).await,
            all(&["c1", "c2", "c3", "c4", "c5"])
        );
    }
}

#[tokio::test]
async fn a_visit_job_delivered_early_is_put_back_whole() {
    let (rt, item, robots) = five_comments().await;
    let job = the_job(&rt);
    let later = rt.clock.now() + chrono::Duration::minutes(10);
    let early = Job {
        due_at: later,
        ..job.clone()
    };
    let outcomes = rt.engine.run_visit_job(early).await.unwrap();
    assert!(
        outcomes.iter().all(|(_, o)| *o == RunOutcome::Rescheduled),
        "{outcomes:?}"
    );
    assert!(rt.jobs.pop_due(rt.clock.now()).is_none());
    assert_eq!(rt.jobs.next_due(), Some(later));
    rt.clock.set(later);
    let back = rt.jobs.pop_due(later).expect("the job, at its time");
    assert_eq!(back.then, job.then, "with all its runs");
    rt.engine.run_job(back).await.unwrap();
    assert_eq!(
        statuses(&rt, &item, &robots).await,
        vec![RunStatus::Done; 5]
    );
}
