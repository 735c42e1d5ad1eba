//! Task chains (issue #14): a robot that waits for the previous robot's task
//! to be completed, with an optional timeout, on the memory runtime.

use crate::common;

use chrono::Duration;
use common::*;
use crm_core::memory::MemRuntime;
use crm_core::model::{RunStatus, Task, TaskStatus};
use serde_json::json;

async fn tasks(rt: &MemRuntime, item: &str) -> Vec<Task> {
    rt.engine.list_tasks(T, item).await.unwrap()
}

fn titled<'a>(ts: &'a [Task], title: &str) -> &'a Task {
    ts.iter()
        .find(|t| t.title == title)
        .unwrap_or_else(|| panic!("no task '{title}' in {ts:#?}"))
}

async fn complete(rt: &MemRuntime, task: &str) {
    rt.engine
        .patch_task(T, task, body(json!({"status": "completed"})))
        .await
        .unwrap();
    rt.settle().await.unwrap();
}

/// Manager prepares the contract → manager gets the scan → accountant
/// registers it; each step starts when the previous task is completed.
async fn contract_chain(rt: &MemRuntime, last: serde_json::Value) -> [String; 3] {
    let a = robot(
        rt,
        json!({"stage_id": "prep", "type": "create_task",
            "settings": {"title": "Prepare the contract for {{title}}"}}),
    )
    .await;
    let b = robot(
        rt,
        json!({"stage_id": "prep", "type": "create_task", "after_previous": true,
            "wait_for": "task_completed",
            "settings": {"title": "Get the signed scan"}}),
    )
    .await;
    let mut c = json!({"stage_id": "prep", "type": "create_task", "after_previous": true,
        "wait_for": "task_completed",
        "settings": {"title": "Register the contract", "responsible_id": "u-dina"}});
    for (k, v) in last.as_object().unwrap() {
        c[k] = v.clone();
    }
    let c = robot(rt, c).await;
    [a.id, b.id, c.id]
}

#[tokio::test]
async fn a_three_step_contract_chain_runs_step_by_step() {
    let rt = company(MONDAY_1144_MSK).await;
    let [a, b, c] = contract_chain(&rt, json!({})).await;
    let item = deal(&rt, "new", 1.0).await;
    move_to(&rt, &item.id, "prep").await;

    let ts = tasks(&rt, &item.id).await;
    assert_eq!(ts.len(), 1, "only the first step so far: {ts:#?}");
    let rs = runs(&rt, &item.id).await;
    assert_eq!(run_of(&rs, &a).status, RunStatus::Done);
    let waiting = run_of(&rs, &b);
    assert_eq!(waiting.status, RunStatus::Pending);
    assert_eq!(waiting.awaiting_task.as_deref(), Some(ts[0].id.as_str()));
    assert_eq!(run_of(&rs, &c).status, RunStatus::Pending);

    // Another task's status change, or a step short of completion, readies nothing.
    rt.engine
        .patch_task(T, &ts[0].id, body(json!({"status": "in_progress"})))
        .await
        .unwrap();
    rt.settle().await.unwrap();
    assert_eq!(tasks(&rt, &item.id).await.len(), 1);

    complete(&rt, &ts[0].id).await;
    let ts = tasks(&rt, &item.id).await;
    assert_eq!(ts.len(), 2);
    let scan = titled(&ts, "Get the signed scan");
    assert_eq!(
        run_of(&runs(&rt, &item.id).await, &b).status,
        RunStatus::Done
    );

    complete(&rt, &scan.id).await;
    // Completing again (or the event delivered twice) adds nothing.
    complete(&rt, &scan.id).await;
    let ts = tasks(&rt, &item.id).await;
    assert_eq!(ts.len(), 3, "{ts:#?}");
    let last = titled(&ts, "Register the contract");
    assert_eq!(last.responsible_id, "u-dina");
    assert_eq!(last.status, TaskStatus::Pending);
    assert_eq!(
        run_of(&runs(&rt, &item.id).await, &c).status,
        RunStatus::Done
    );
}

#[tokio::test]
async fn leaving_the_stage_cancels_the_rest_of_the_chain() {
    let rt = company(MONDAY_1144_MSK).await;
    let [_, b, c] = contract_chain(&rt, json!({})).await;
    let item = deal(&rt, "new", 1.0).await;
    move_to(&rt, &item.id, "prep").await;
    let first = tasks(&rt, &item.id).await[0].id.clone();
    move_to(&rt, &item.id, "presentation").await;
    let rs = runs(&rt, &item.id).await;
    assert_eq!(run_of(&rs, &b).status, RunStatus::Cancelled);
    assert_eq!(run_of(&rs, &c).status, RunStatus::Cancelled);
    // The task completed afterwards starts nothing.
    complete(&rt, &first).await;
    assert_eq!(tasks(&rt, &item.id).await.len(), 1);
}

#[tokio::test]
async fn on_timeout_the_waiting_robot_runs_or_is_skipped_as_configured() {
    let rt = company(MONDAY_1144_MSK).await;
    let [_, b, c] = contract_chain(
        &rt,
        json!({"wait_timeout": {"amount": 1, "unit": "days"}, "on_timeout": "skip"}),
    )
    .await;
    // Make the second step run anyway after 2 hours.
    rt.engine
        .update_robot(
            T,
            "deals",
            &b,
            body(
                json!({"stage_id": "prep", "type": "create_task", "after_previous": true,
                "wait_for": "task_completed", "wait_timeout": {"amount": 2, "unit": "hours"},
                "on_timeout": "run", "settings": {"title": "Get the signed scan"}}),
            ),
        )
        .await
        .unwrap();
    let item = deal(&rt, "new", 1.0).await;
    move_to(&rt, &item.id, "prep").await;
    rt.advance(Duration::hours(1)).await.unwrap();
    assert_eq!(tasks(&rt, &item.id).await.len(), 1);
    rt.advance(Duration::hours(1)).await.unwrap();
    let run = run_of(&runs(&rt, &item.id).await, &b).clone();
    assert_eq!(run.status, RunStatus::Done, "{run:#?}");
    assert!(
        run.reason.as_deref().unwrap().starts_with("ran on timeout"),
        "{run:#?}"
    );
    let ts = tasks(&rt, &item.id).await;
    assert_eq!(ts.len(), 2);
    let scan = titled(&ts, "Get the signed scan").id.clone();
    // The third step waits a day for the scan, then is skipped.
    rt.advance(Duration::days(1)).await.unwrap();
    let run = run_of(&runs(&rt, &item.id).await, &c).clone();
    assert_eq!(run.status, RunStatus::Skipped, "{run:#?}");
    assert!(
        run.reason
            .as_deref()
            .unwrap()
            .contains("was not completed within 1 day"),
        "{run:#?}"
    );
    // A completion after the timeout changes nothing.
    complete(&rt, &scan).await;
    assert_eq!(tasks(&rt, &item.id).await.len(), 2);
}

#[tokio::test]
async fn waiting_for_a_task_needs_a_task_before_it() {
    let rt = company(MONDAY_1144_MSK).await;
    robot(
        &rt,
        json!({"stage_id": "prep", "type": "add_timeline_comment", "settings": {"text": "hi"}}),
    )
    .await;
    let cases = [
        json!({"after_previous": true, "wait_for": "task_completed"}),
        json!({"after_previous": false, "wait_for": "task_completed"}),
    ];
    for extra in cases {
        let mut v = json!({"stage_id": "prep", "type": "create_task", "settings": {"title": "x"}});
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
        let err = rt
            .engine
            .create_robot(T, "deals", body(v.clone()))
            .await
            .unwrap_err();
        let crm_core::error::EngineError::Unprocessable { details } = &err else {
            panic!("{v}: {err:?}");
        };
        assert_eq!(details[0].field, "wait_for", "{v}");
    }
    let err = rt
        .engine
        .create_robot(
            T,
            "deals",
            body(
                json!({"stage_id": "prep", "type": "create_task", "settings": {"title": "x"},
                "wait_timeout": {"amount": 1, "unit": "days"}}),
            ),
        )
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("wait_timeout"), "{err:?}");
}

#[tokio::test]
async fn run_now_stops_waiting_for_the_task() {
    let rt = company(MONDAY_1144_MSK).await;
    let [_, b, _] = contract_chain(&rt, json!({})).await;
    let item = deal(&rt, "new", 1.0).await;
    move_to(&rt, &item.id, "prep").await;
    let run_id = run_of(&runs(&rt, &item.id).await, &b).id.clone();
    rt.engine
        .run_now(T, &item.id, &run_id, "u-boss")
        .await
        .unwrap();
    rt.settle().await.unwrap();
    let run = run_of(&runs(&rt, &item.id).await, &b).clone();
    assert_eq!(run.status, RunStatus::Done, "{run:#?}");
    assert_eq!(tasks(&rt, &item.id).await.len(), 2);
}
