//! "Run now", "stop automation", the robot order of a stage and the badge
//! counts (issue #12): a person steering the robots of one item's visit.

use crate::common;

use chrono::Duration;
use common::*;
use crm_core::engine::PageRequest;
use crm_core::error::EngineError;
use crm_core::model::RunStatus;
use crm_core::ports::Clock;
use serde_json::json;

fn day() -> serde_json::Value {
    json!({"mode": "after", "amount": 1, "unit": "days"})
}

fn comment(stage: &str, text: &str, delay: serde_json::Value) -> serde_json::Value {
    json!({"stage_id": stage, "type": "add_timeline_comment", "delay": delay,
        "settings": {"text": text}})
}

async fn infos(rt: &crm_core::memory::MemRuntime, item: &str) -> Vec<String> {
    rt.engine
        .timeline(T, item)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "info")
        .map(|e| e.text)
        .collect()
}

#[tokio::test]
async fn a_run_now_robot_skips_its_delay_and_runs_once() {
    let rt = company(MONDAY_1144_MSK).await;
    let later = robot(&rt, comment("new", "a day later", day())).await;
    let item = crm_core::testing::settled_item(&rt, crm_core::testing::plain_deal("X")).await;
    let run_id = crm_core::planning::run_id(&item.id, 1, &later.id);
    assert!(rt.jobs.is_scheduled(T, &run_id));

    let run = rt
        .engine
        .run_now(T, &item.id, &run_id, "anna's laptop")
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Pending, "it runs through the queue");
    assert_eq!(run.due_at, Some(rt.clock.now()), "due now");
    assert_eq!(run.reason.as_deref(), Some("run now by anna's laptop"));
    assert!(!rt.jobs.is_scheduled(T, &run_id), "the old timer is gone");
    assert!(comments(&rt, &item.id).await.is_empty(), "not run yet");

    rt.settle().await.unwrap();
    assert_eq!(comments(&rt, &item.id).await, ["a day later"]);
    let done = run_of(&runs(&rt, &item.id).await, &later.id).clone();
    assert_eq!(done.status, RunStatus::Done);
    assert!(
        infos(&rt, &item.id)
            .await
            .iter()
            .any(|t| t.contains("run now by anna's laptop")),
        "recorded in the timeline"
    );
    // a day later nothing runs a second time, and a second run-now is a 409
    rt.advance(Duration::days(2)).await.unwrap();
    assert_eq!(comments(&rt, &item.id).await, ["a day later"]);
    let err = rt
        .engine
        .run_now(T, &item.id, &run_id, "anna")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::Conflict(m) if m.contains("done")),
        "{err}"
    );
}

#[tokio::test]
async fn run_now_checks_the_condition_and_knows_only_runs_of_the_item() {
    let rt = company(MONDAY_1144_MSK).await;
    let big = robot(
        &rt,
        json!({"stage_id": "new", "type": "add_timeline_comment", "delay": day(),
            "condition": {"field": "amount", "op": "gt", "value": 1000000},
            "settings": {"text": "big"}}),
    )
    .await;
    let item = deal(&rt, "new", 5000.0).await;
    let other = deal(&rt, "new", 7000.0).await;
    let run_id = crm_core::planning::run_id(&item.id, 1, &big.id);
    let err = rt
        .engine
        .run_now(T, &other.id, &run_id, "x")
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::NotFound { .. }), "{err}");
    let err = rt
        .engine
        .run_now(T, &item.id, "no-such-run", "x")
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::NotFound { .. }), "{err}");
    rt.engine.run_now(T, &item.id, &run_id, "x").await.unwrap();
    rt.settle().await.unwrap();
    let run = run_of(&runs(&rt, &item.id).await, &big.id).clone();
    assert_eq!(run.status, RunStatus::Skipped, "{run:?}");
    assert!(comments(&rt, &item.id).await.is_empty());
}

#[tokio::test]
async fn a_robot_after_the_previous_one_still_waits_for_it() {
    let rt = company(MONDAY_1144_MSK).await;
    let first = robot(&rt, comment("new", "first", day())).await;
    let second = robot(
        &rt,
        json!({"stage_id": "new", "type": "add_timeline_comment", "after_previous": true,
            "delay": {"mode": "after", "amount": 2, "unit": "hours"},
            "settings": {"text": "second"}}),
    )
    .await;
    let item = crm_core::testing::settled_item(&rt, crm_core::testing::plain_deal("X")).await;
    let second_run = crm_core::planning::run_id(&item.id, 1, &second.id);
    let run = rt
        .engine
        .run_now(T, &item.id, &second_run, "anna")
        .await
        .unwrap();
    assert_eq!(run.due_at, None, "still waiting");
    assert!(
        run.reason
            .as_deref()
            .unwrap_or_default()
            .contains("waits for the previous robot"),
        "{run:?}"
    );
    rt.settle().await.unwrap();
    assert!(comments(&rt, &item.id).await.is_empty(), "nothing ran yet");
    // when the first one runs, the second follows at once (its delay is skipped)
    rt.advance(Duration::days(1)).await.unwrap();
    assert_eq!(comments(&rt, &item.id).await, ["first", "second"]);
    let all = runs(&rt, &item.id).await;
    assert_eq!(run_of(&all, &first.id).status, RunStatus::Done);
    assert_eq!(
        run_of(&all, &second.id).finished_at,
        run_of(&all, &first.id).finished_at
    );
}

#[tokio::test]
async fn stop_automation_cancels_the_visit_and_nothing_runs_later() {
    let rt = company(MONDAY_1144_MSK).await;
    let a = robot(&rt, comment("new", "a", day())).await;
    let b = robot(&rt, comment("new", "b", day())).await;
    let item = crm_core::testing::settled_item(&rt, crm_core::testing::plain_deal("X")).await;

    let stopped = rt
        .engine
        .stop_automation(T, &item.id, "anna", Some("client asked to wait"))
        .await
        .unwrap();
    assert_eq!(stopped.runs.len(), 2);
    for r in &stopped.runs {
        assert_eq!(r.status, RunStatus::Cancelled);
        assert_eq!(
            r.reason.as_deref(),
            Some("automation stopped by anna: client asked to wait")
        );
    }
    for id in [&a.id, &b.id] {
        let run_id = crm_core::planning::run_id(&item.id, 1, id);
        assert!(!rt.jobs.is_scheduled(T, &run_id), "timer cancelled");
    }
    assert!(
        infos(&rt, &item.id)
            .await
            .iter()
            .any(|t| t.contains("stopped by anna"))
    );
    // idempotent
    let again = rt
        .engine
        .stop_automation(T, &item.id, "anna", None)
        .await
        .unwrap();
    assert!(again.runs.is_empty());
    rt.advance(Duration::days(3)).await.unwrap();
    assert!(comments(&rt, &item.id).await.is_empty(), "nothing ran");
    // a run-now of a stopped run is a 409 saying it is cancelled
    let run_id = crm_core::planning::run_id(&item.id, 1, &a.id);
    let err = rt
        .engine
        .run_now(T, &item.id, &run_id, "x")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::Conflict(m) if m.contains("cancelled")),
        "{err}"
    );
}

#[tokio::test]
async fn a_stop_on_a_new_visit_only_affects_that_visit() {
    let rt = company(MONDAY_1144_MSK).await;
    let a = robot(&rt, comment("new", "a", day())).await;
    let p = robot(&rt, comment("prep", "p", day())).await;
    let item = crm_core::testing::settled_item(&rt, crm_core::testing::plain_deal("X")).await;
    move_to(&rt, &item.id, "prep").await;
    move_to(&rt, &item.id, "new").await;
    let visit = rt.engine.get_item(T, &item.id).await.unwrap().visit;
    let stopped = rt
        .engine
        .stop_automation(T, &item.id, "anna", None)
        .await
        .unwrap();
    assert_eq!(stopped.runs.len(), 1);
    assert_eq!(stopped.runs[0].visit, visit);
    assert_eq!(stopped.runs[0].robot_id.as_deref(), Some(a.id.as_str()));
    let all = runs(&rt, &item.id).await;
    let first = all
        .iter()
        .find(|r| r.visit == 1 && r.robot_id.as_deref() == Some(&a.id))
        .unwrap();
    assert!(
        first
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("left stage"),
        "the earlier visit keeps its own reason: {first:?}"
    );
    let prep = run_of(&all, &p.id);
    assert!(
        !prep
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("stopped")
    );
    // a run of a past visit cannot run now
    let err = rt
        .engine
        .run_now(T, &item.id, &first.id, "x")
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Conflict(_)), "{err}");
    // the next stage change plans robots as usual
    move_to(&rt, &item.id, "prep").await;
    rt.advance(Duration::days(2)).await.unwrap();
    assert_eq!(comments(&rt, &item.id).await, ["p"]);
}

#[tokio::test]
async fn robots_are_reordered_and_the_chain_follows() {
    let rt = company(MONDAY_1144_MSK).await;
    let one = robot(&rt, comment("new", "one", json!({"mode": "immediately"}))).await;
    let two = robot(
        &rt,
        json!({"stage_id": "new", "type": "add_timeline_comment", "after_previous": true,
            "settings": {"text": "two"}}),
    )
    .await;
    let other = robot(&rt, comment("prep", "other", day())).await;
    let ids = vec![two.id.clone(), one.id.clone()];
    let robots = rt
        .engine
        .reorder_robots(T, "deals", "new", &ids)
        .await
        .unwrap();
    assert_eq!(robots.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), ids);
    let listed: Vec<String> = rt
        .engine
        .list_robots(T, "deals")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, [two.id.clone(), one.id.clone(), other.id.clone()]);
    let item = crm_core::testing::settled_item(&rt, crm_core::testing::plain_deal("X")).await;
    rt.settle().await.unwrap();
    assert_eq!(comments(&rt, &item.id).await, ["two", "one"]);

    for bad in [vec![one.id.clone()], vec![one.id.clone(), other.id.clone()]] {
        let err = rt
            .engine
            .reorder_robots(T, "deals", "new", &bad)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, EngineError::Unprocessable { details } if details[0].field == "robot_ids"),
            "{err}"
        );
    }
    let err = rt
        .engine
        .reorder_robots(T, "deals", "nowhere", &ids)
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::NotFound { .. }), "{err}");
}

#[tokio::test]
async fn badges_count_the_current_visit() {
    let rt = company(MONDAY_1144_MSK).await;
    robot(&rt, comment("new", "a", day())).await;
    robot(&rt, comment("new", "b", day())).await;
    let x = crm_core::testing::settled_item(&rt, crm_core::testing::plain_deal("X")).await;
    let y = crm_core::testing::settled_item(&rt, crm_core::testing::plain_deal("Y")).await;
    rt.engine
        .stop_automation(T, &y.id, "anna", None)
        .await
        .unwrap();
    let ids = vec![x.id.clone(), y.id.clone(), "nope".to_string()];
    let s = rt.engine.run_summary(T, &ids).await.unwrap();
    assert_eq!(s.len(), 2, "unknown ids are left out");
    assert_eq!((s[&x.id].pending, s[&x.id].failed), (2, 0));
    assert_eq!((s[&y.id].pending, s[&y.id].failed), (0, 0));
    let other_tenant = rt.engine.run_summary("someone-else", &ids).await.unwrap();
    assert!(other_tenant.is_empty());
    let many: Vec<String> = (0..101).map(|n| format!("i-{n}")).collect();
    assert!(rt.engine.run_summary(T, &many).await.is_err());
}

#[tokio::test]
async fn the_run_log_and_timeline_page_through_every_record_once() {
    let rt = company(MONDAY_1144_MSK).await;
    for n in 0..5 {
        robot(
            &rt,
            comment("new", &format!("c{n}"), json!({"mode": "immediately"})),
        )
        .await;
    }
    let item = crm_core::testing::settled_item(&rt, crm_core::testing::plain_deal("X")).await;
    let all_runs = runs(&rt, &item.id).await;
    let mut req = PageRequest::new(Some(2), None);
    let mut paged = Vec::new();
    loop {
        let page = rt.engine.runs_page(T, &item.id, &req).await.unwrap();
        assert!(page.items.len() <= 2);
        paged.extend(page.items);
        match page.next_cursor {
            Some(c) => req.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(paged, all_runs, "the same runs in the same order");

    let all = rt.engine.timeline(T, &item.id).await.unwrap();
    let mut req = PageRequest::new(Some(3), None);
    let mut paged = Vec::new();
    loop {
        let page = rt
            .engine
            .timeline_page(T, &item.id, None, &req)
            .await
            .unwrap();
        paged.extend(page.items);
        match page.next_cursor {
            Some(c) => req.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(paged, all);
    let only = rt
        .engine
        .timeline_page(T, &item.id, Some("comment"), &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(only.items.len(), 5);
    assert!(only.items.iter().all(|e| e.kind == "comment"));
}
