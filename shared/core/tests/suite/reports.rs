//! Reports from the engine with an injected clock: what the batch runner
//! (the local server's one worker) counts, once per run; the conversion
//! time and the funnel of the seeds' pipeline. The full hand-computed
//! history (re-entries, period boundaries, per responsible, lateness) runs
//! on every store in `crm-tests` (`report_contract`).

use crate::common;

use chrono::Duration;
use common::*;
use crm_core::EngineConfig;
use crm_core::RunOutcome;
use crm_core::memory::MemRuntime;
use crm_core::model::RunStatus;
use crm_core::ports::Clock;
use serde_json::json;

fn query(rt: &MemRuntime, from: &str, to: &str) -> crm_core::reports::ReportQuery {
    rt.engine
        .report_query("deals".into(), Some(from), Some(to), None, None)
        .unwrap()
}

#[tokio::test]
async fn the_batch_runner_counts_each_run_once_in_shared_day_documents() {
    let rt = MemRuntime::with_config(
        at(MONDAY_1144_MSK),
        EngineConfig {
            claim_runs: false,
            ..EngineConfig::default()
        },
    );
    crm_core::testing::load(&rt.engine, T).await.unwrap();
    let r = robot(
        &rt,
        json!({"stage_id": "prep", "type": "add_timeline_comment", "name": "note",
        "delay": {"mode": "immediately"}, "settings": {"text": "entered {{title}}"}}),
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..60 {
        let item = rt
            .engine
            .create_item(
                T,
                body(json!({"pipeline_id": "deals", "stage_id": "new",
                "title": format!("deal {i}"), "responsible_id": "u-anna"})),
            )
            .await
            .unwrap();
        ids.push(item.id);
    }
    for d in rt.engine.pending_outbox().await.unwrap() {
        rt.engine.process_outbox(d).await.unwrap();
    }
    rt.clock.advance(Duration::minutes(30));
    for id in &ids {
        rt.engine
            .patch_item(T, id, body(json!({"stage_id": "prep"})), None)
            .await
            .unwrap();
    }
    for d in rt.engine.pending_outbox().await.unwrap() {
        rt.engine.process_outbox(d).await.unwrap();
    }
    let mut jobs = Vec::new();
    while let Some(j) = rt.jobs.pop_due(rt.clock.now()) {
        jobs.push(j);
    }
    assert_eq!(jobs.len(), 60);
    let outcomes = rt.engine.run_jobs(jobs.clone()).await.unwrap();
    assert!(
        outcomes
            .iter()
            .all(|o| *o == RunOutcome::Finished(RunStatus::Done)),
        "{outcomes:?}"
    );
    // The same jobs again (a redelivery): nothing more is counted.
    let again = rt.engine.run_jobs(jobs).await.unwrap();
    assert!(again.iter().all(|o| *o == RunOutcome::AlreadyFinished));
    let report = rt
        .engine
        .report_robots(T, &query(&rt, "2026-11-23", "2026-11-23"))
        .await
        .unwrap();
    let row = report.robots.iter().find(|x| x.robot_id == r.id).unwrap();
    assert_eq!((row.runs.done, row.total, row.lateness.count), (60, 60, 0));
    let st = rt
        .engine
        .report_stage_time(T, &query(&rt, "2026-11-23", "2026-11-23"))
        .await
        .unwrap();
    assert_eq!(st.stages[0].count, 60);
    assert_eq!(st.stages[0].mean_seconds, Some(1800.0));
}

#[tokio::test]
async fn conversion_time_is_creation_to_the_success_stage_and_deletion_ends_a_visit() {
    let rt = company(MONDAY_1144_MSK).await;
    let won = deal(&rt, "new", 100.0).await;
    let lost = deal(&rt, "new", 100.0).await;
    let gone = deal(&rt, "new", 100.0).await;
    rt.advance(Duration::days(2)).await.unwrap();
    move_to(&rt, &won.id, "presentation").await;
    rt.advance(Duration::days(1)).await.unwrap();
    move_to(&rt, &won.id, "won").await;
    move_to(&rt, &lost.id, "lost").await;
    rt.engine.delete_item(T, &gone.id, None).await.unwrap();
    rt.settle().await.unwrap();
    let q = query(&rt, "2026-11-01", "2026-11-30");
    let c = rt.engine.report_conversion(T, &q).await.unwrap();
    let entered: Vec<i64> = c.stages.iter().map(|s| s.entered).collect();
    assert_eq!(entered, vec![3, 0, 1, 1, 1]);
    assert_eq!((c.success, c.failure), (1, 1));
    assert_eq!(c.processing_time.count, 1);
    assert_eq!(c.processing_time.mean_seconds, Some(3.0 * 86400.0));
    // A skipped stage leaves the funnel without a percentage after it.
    assert_eq!(c.stages[1].conversion_percent, Some(0.0));
    assert_eq!(c.stages[2].conversion_percent, None);
    let st = rt.engine.report_stage_time(T, &q).await.unwrap();
    // New: won 2 d, lost 3 d, the deleted one 3 d.
    assert_eq!(st.stages[0].count, 3);
    assert_eq!(st.stages[0].total_seconds, 8.0 * 86400.0);
    // The items keep their totals per stage.
    let item = rt.engine.get_item(T, &won.id).await.unwrap();
    assert_eq!(item.stage_time["new"].ms, 2 * 86_400_000);
    assert_eq!(item.stage_time["presentation"].ms, 86_400_000);
}

fn for_responsible(rt: &MemRuntime, who: &str) -> crm_core::reports::ReportQuery {
    rt.engine
        .report_query(
            "deals".into(),
            Some("2026-11-01"),
            Some("2026-11-30"),
            None,
            Some(who.into()),
        )
        .unwrap()
}

#[tokio::test]
async fn a_patch_of_stage_and_responsible_counts_the_visit_where_a_re_entry_takes_it_out() {
    let rt = company(MONDAY_1144_MSK).await;
    let d = deal(&rt, "new", 100.0).await;
    rt.advance(Duration::days(1)).await.unwrap();
    // One PATCH: the stage and the responsible at once.
    rt.engine
        .patch_item(
            T,
            &d.id,
            body(json!({"stage_id": "prep", "responsible_id": "u-dina"})),
            None,
        )
        .await
        .unwrap();
    rt.settle().await.unwrap();
    rt.advance(Duration::days(1)).await.unwrap();
    move_to(&rt, &d.id, "new").await;
    rt.advance(Duration::days(1)).await.unwrap();
    move_to(&rt, &d.id, "prep").await;
    let new_of = |r: &crm_core::reports::StageTimeReport| {
        let s = r.stages.iter().find(|s| s.stage_id == "new").unwrap();
        (s.count, s.visits, s.total_seconds)
    };
    let dina = rt
        .engine
        .report_stage_time(T, &for_responsible(&rt, "u-dina"))
        .await
        .unwrap();
    let anna = rt
        .engine
        .report_stage_time(T, &for_responsible(&rt, "u-anna"))
        .await
        .unwrap();
    // The item's total in `new` (1 d + 1 d) counts once, under the
    // responsible the item keeps it under; nobody is left with a negative
    // or orphan count.
    let item = rt.engine.get_item(T, &d.id).await.unwrap();
    assert_eq!(item.stage_time["new"].responsible_id, "u-dina");
    assert_eq!(new_of(&dina), (1, 2, 2.0 * 86400.0));
    assert_eq!(new_of(&anna), (0, 0, 0.0));
    let all = rt
        .engine
        .report_stage_time(T, &query(&rt, "2026-11-01", "2026-11-30"))
        .await
        .unwrap();
    assert_eq!(new_of(&all), (1, 2, 2.0 * 86400.0));
}

#[tokio::test]
async fn a_deleted_robot_stays_in_the_robots_report_for_the_days_it_ran() {
    let rt = company(MONDAY_1144_MSK).await;
    let r = robot(
        &rt,
        json!({"stage_id": "prep", "type": "add_timeline_comment", "name": "note on prep",
        "delay": {"mode": "immediately"}, "settings": {"text": "entered {{title}}"}}),
    )
    .await;
    let d = deal(&rt, "new", 100.0).await;
    move_to(&rt, &d.id, "prep").await;
    rt.engine.delete_robot(T, "deals", &r.id).await.unwrap();
    let today = rt
        .engine
        .report_robots(T, &query(&rt, "2026-11-23", "2026-11-23"))
        .await
        .unwrap();
    let row = today.robots.iter().find(|x| x.robot_id == r.id).unwrap();
    assert_eq!(
        (row.name.as_str(), row.deleted, row.runs.done, row.total),
        ("note on prep", true, 1, 1)
    );
    let csv = crm_core::reports::csv::robots_csv(&today);
    assert!(csv.lines().next().unwrap().ends_with(",deleted"), "{csv}");
    assert!(
        csv.contains("note on prep") && csv.contains(",true"),
        "{csv}"
    );
    // Not in a period it did not run in.
    rt.advance(Duration::days(2)).await.unwrap();
    let later = rt
        .engine
        .report_robots(T, &query(&rt, "2026-11-24", "2026-11-25"))
        .await
        .unwrap();
    assert!(later.robots.iter().all(|x| x.robot_id != r.id));
}
