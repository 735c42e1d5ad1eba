//! The robots report's documents (issue #11, cost): a robot run counts on
//! ONE document per (pipeline, the robot's stage, UTC day, shard), so the
//! five robots of a stage that finish in one visit job write one report
//! document; the report still shows each robot's counts exactly, adds the
//! per-robot documents written before the change, and keeps a moved
//! robot's earlier counts.

use crate::common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::NaiveDate;
use common::*;
use crm_core::hooked_store::{HookedStore, TransactHook};
use crm_core::memory::MemRuntime;
use crm_core::model::RunStatus;
use crm_core::ports::{Clock, Cond, Doc, DocStore, Kind, StoreError, Write};
use crm_core::reports::Aggregate;
use crm_core::reports::aggregate::robot_key;
use crm_core::reports::query::RobotRow;
use crm_core::{EngineConfig, RunOutcome};
use serde_json::{Value, json};

fn unclaimed() -> EngineConfig {
    EngineConfig {
        claim_runs: false,
        ..Default::default()
    }
}

/// Records the ids of the report documents each transaction writes.
#[derive(Clone, Default)]
struct ReportWrites(Arc<Mutex<Vec<Vec<String>>>>);

#[async_trait]
impl TransactHook for ReportWrites {
    async fn transact(&self, inner: &dyn DocStore, writes: Vec<Write>) -> Result<(), StoreError> {
        let reports = writes
            .iter()
            .filter(|w| w.key().kind == Kind::Report)
            .map(|w| w.key().id.clone())
            .collect();
        self.0.lock().unwrap().push(reports);
        inner.transact(writes).await
    }
}

fn query(rt: &MemRuntime, from: &str, to: &str) -> crm_core::reports::ReportQuery {
    rt.engine
        .report_query("deals".into(), Some(from), Some(to), None, None)
        .unwrap()
}

async fn rows(rt: &MemRuntime, from: &str, to: &str) -> Vec<RobotRow> {
    rt.engine
        .report_robots(T, &query(rt, from, to))
        .await
        .unwrap()
        .robots
}

fn row<'a>(rows: &'a [RobotRow], robot: &str) -> &'a RobotRow {
    rows.iter()
        .find(|r| r.robot_id == robot)
        .unwrap_or_else(|| panic!("no row of {robot} in {rows:#?}"))
}

/// `(done, skipped, failed, total)` of a row.
fn counts(r: &RobotRow) -> (i64, i64, i64, i64) {
    (r.runs.done, r.runs.skipped, r.runs.failed, r.total)
}

fn report_docs(rt: &MemRuntime, prefix: &str) -> Vec<Doc> {
    rt.store
        .docs(Kind::Report)
        .into_iter()
        .filter(|d| d.key.id.starts_with(prefix))
        .collect()
}

/// A new deal in `new`, planned (its one visit job queued, not run).
async fn planned_deal(rt: &MemRuntime, title: &str) -> String {
    let item = rt
        .engine
        .create_item(
            T,
            body(json!({"pipeline_id": "deals", "title": title, "responsible_id": "u-anna"})),
        )
        .await
        .unwrap();
    for d in rt.engine.pending_outbox().await.unwrap() {
        rt.engine.process_outbox(d).await.unwrap();
    }
    item.id
}

#[tokio::test]
async fn five_robots_of_a_stage_in_one_visit_job_write_one_report_document() {
    let rt = MemRuntime::with_config(at(MONDAY_1144_MSK), unclaimed());
    crm_core::testing::load(&rt.engine, T).await.unwrap();
    let mut robots = Vec::new();
    for n in 1..=5 {
        let mut r = json!({"stage_id": "new", "type": "add_timeline_comment",
            "settings": {"text": format!("c{n}")}});
        if n == 3 {
            // Its condition does not hold: the run ends skipped.
            r["condition"] = json!({"field": "title", "op": "empty"});
        }
        robots.push(robot(&rt, r).await);
    }
    let item = planned_deal(&rt, "Website").await;
    let job = rt.jobs.pop_due(rt.clock.now()).expect("the visit job");
    assert_eq!(job.then.len(), 4, "one job for the five runs");
    let seen = ReportWrites::default();
    let engine = engine_on(
        &rt,
        Arc::new(HookedStore::new(rt.store.clone(), seen.clone())),
        unclaimed(),
    );
    let outcomes = engine.run_visit_job(job).await.unwrap();
    assert_eq!(outcomes.len(), 5);
    let commits = seen.0.lock().unwrap().clone();
    assert_eq!(commits.len(), 1, "one commit: {commits:?}");
    assert_eq!(commits[0].len(), 1, "one report document: {commits:?}");
    assert!(
        commits[0][0].starts_with("rr|deals|new|2026-11-23|"),
        "{commits:?}"
    );
    // Stored: that one document, holding the five robots; nothing per robot.
    let docs = report_docs(&rt, "rr|");
    assert_eq!(docs.len(), 1);
    let stored: Aggregate = serde_json::from_value(docs[0].body.clone()).unwrap();
    assert_eq!(stored.robots.len(), 5, "{stored:?}");
    assert!(report_docs(&rt, "rb|").is_empty());
    assert!(
        docs[0].body.to_string().len() < 1024,
        "a small document: {}",
        docs[0].body
    );
    let statuses: Vec<RunStatus> = robots
        .iter()
        .map(|r| {
            let outcome = &outcomes
                .iter()
                .find(|(id, _)| id.ends_with(&r.id))
                .unwrap()
                .1;
            match outcome {
                RunOutcome::Finished(s) => *s,
                other => panic!("{other:?}"),
            }
        })
        .collect();
    assert_eq!(statuses[2], RunStatus::Skipped);
    // The report: each robot's own counts, exactly.
    let report = rows(&rt, "2026-11-23", "2026-11-23").await;
    for (n, r) in robots.iter().enumerate() {
        let want = if n == 2 { (0, 1, 0, 1) } else { (1, 0, 0, 1) };
        assert_eq!(counts(row(&report, &r.id)), want, "robot {}", n + 1);
    }
    // A second deal's visit (maybe another shard): the counts add up.
    planned_deal(&rt, "Second").await;
    let job = rt
        .jobs
        .pop_due(rt.clock.now())
        .expect("the second visit job");
    rt.engine.run_visit_job(job).await.unwrap();
    let report = rows(&rt, "2026-11-23", "2026-11-23").await;
    for (n, r) in robots.iter().enumerate() {
        let want = if n == 2 { (0, 2, 0, 2) } else { (2, 0, 0, 2) };
        assert_eq!(counts(row(&report, &r.id)), want, "robot {}", n + 1);
    }
    assert_eq!(comments(&rt, &item).await, vec!["c1", "c2", "c4", "c5"]);
}

/// A robot's own document as written before the change.
async fn legacy_doc(rt: &MemRuntime, robot: &str, day: &str, shard: u32, counts: Value) {
    let day: NaiveDate = day.parse().unwrap();
    rt.store
        .transact(vec![Write::Put {
            doc: Doc {
                key: robot_key(T, "deals", robot, day, shard),
                version: 1,
                parent: None,
                expires_at: None,
                body: counts,
            },
            cond: Cond::Absent,
        }])
        .await
        .unwrap();
}

#[tokio::test]
async fn counts_in_a_robots_own_document_of_before_the_change_are_added() {
    let rt = company(MONDAY_1144_MSK).await;
    let r = robot(
        &rt,
        json!({"stage_id": "prep", "type": "add_timeline_comment", "name": "note",
        "settings": {"text": "entered {{title}}"}}),
    )
    .await;
    // Before the change: 3 done and 1 failed on the 22nd, one late run
    // (60 s) among them; 2 done on the 23rd, another shard.
    let mut before = Aggregate::default();
    before.runs.insert("done".into(), 3);
    before.runs.insert("failed".into(), 1);
    before.late.add(60_000, 1);
    legacy_doc(
        &rt,
        &r.id,
        "2026-11-22",
        1,
        serde_json::to_value(&before).unwrap(),
    )
    .await;
    legacy_doc(&rt, &r.id, "2026-11-23", 3, json!({"runs": {"done": 2}})).await;
    // After the change: one run on the 23rd.
    let d = deal(&rt, "new", 100.0).await;
    move_to(&rt, &d.id, "prep").await;
    assert_eq!(
        run_of(&runs(&rt, &d.id).await, &r.id).status,
        RunStatus::Done
    );
    assert_eq!(report_docs(&rt, "rr|").len(), 1);
    let both = rows(&rt, "2026-11-22", "2026-11-23").await;
    let got = row(&both, &r.id);
    assert_eq!(counts(got), (6, 0, 1, 7));
    assert_eq!(got.lateness.count, 1);
    let p50 = got.lateness.p50_seconds.unwrap();
    assert!((p50 - 60.0).abs() <= 60.0 * 0.05, "{p50}");
    // A period of one day counts that day's documents only.
    let today = rows(&rt, "2026-11-23", "2026-11-23").await;
    assert_eq!(counts(row(&today, &r.id)), (3, 0, 0, 3));
    assert_eq!(row(&today, &r.id).lateness.count, 0);
}

#[tokio::test]
async fn a_robot_moved_to_another_stage_keeps_what_it_ran_before() {
    let rt = company(MONDAY_1144_MSK).await;
    let on_prep = json!({"stage_id": "prep", "type": "add_timeline_comment", "name": "note",
        "settings": {"text": "entered {{title}}"}});
    let r = robot(&rt, on_prep.clone()).await;
    let first = deal(&rt, "new", 100.0).await;
    move_to(&rt, &first.id, "prep").await;
    // The robot moves to another stage (no robot is left on `prep`).
    let mut moved = on_prep;
    moved["stage_id"] = json!("presentation");
    rt.engine
        .update_robot(T, "deals", &r.id, body(moved))
        .await
        .unwrap();
    let second = deal(&rt, "new", 100.0).await;
    move_to(&rt, &second.id, "presentation").await;
    assert_eq!(
        run_of(&runs(&rt, &second.id).await, &r.id).status,
        RunStatus::Done
    );
    let report = rows(&rt, "2026-11-23", "2026-11-23").await;
    let got = row(&report, &r.id);
    assert_eq!(got.stage_id, "presentation");
    assert_eq!(counts(got), (2, 0, 0, 2));
}
