//! `complete_task` reads the item's tasks a page at a time, at most
//! `MAX_TASKS_READ` of them (issue #11: no engine step reads an unbounded
//! list): tasks past the first page are found, and an item with more than
//! the limit fails the run with a reason that names it.

use crate::common;

use common::*;
use crm_core::memory::MemRuntime;
use crm_core::model::{RunStatus, TaskStatus};
use crm_core::ports::{Cond, Doc, DocKey, Kind, Write};
use crm_core::robots::complete_task::MAX_TASKS_READ;
use serde_json::json;

/// `n` completed tasks of `item` made on `prep`, written straight to the
/// store (ids sort before the robot's own task, made later).
async fn old_tasks(rt: &MemRuntime, item: &str, n: usize) {
    let writes: Vec<Write> = (0..n)
        .map(|i| Write::Put {
            doc: Doc {
                key: DocKey::new(T, Kind::Task, format!("task-0-{i:05}")),
                version: 1,
                parent: Some(item.to_string()),
                expires_at: None,
                body: json!({
                    "id": format!("task-0-{i:05}"), "item_id": item, "pipeline_id": "deals",
                    "stage_id": "prep", "robot_id": "robot-old", "title": "old",
                    "description": "", "responsible_id": "u-dina", "deadline": null,
                    "status": "completed", "created_at": "2026-11-01T00:00:00Z",
                    "completed_at": "2026-11-02T00:00:00Z"
                }),
            },
            cond: Cond::Absent,
        })
        .collect();
    for chunk in writes.chunks(25) {
        rt.engine
            .ports()
            .store
            .transact(chunk.to_vec())
            .await
            .unwrap();
    }
}

async fn setup(old: usize) -> (MemRuntime, String, String) {
    let rt = company(MONDAY_1144_MSK).await;
    robot(
        &rt,
        json!({"stage_id": "prep", "type": "create_task",
            "settings": {"title": "Design for {{title}}", "responsible_id": "u-dina"}}),
    )
    .await;
    let done = robot(
        &rt,
        json!({"stage_id": "won", "type": "complete_task", "settings": {"stage_ids": ["prep"]}}),
    )
    .await;
    let item = new_deal(&rt).await.id;
    old_tasks(&rt, &item, old).await;
    move_to(&rt, &item, "prep").await;
    move_to(&rt, &item, "won").await;
    (rt, item, done.id)
}

#[tokio::test]
async fn the_robots_task_after_a_page_of_older_ones_is_completed() {
    let (rt, item, done) = setup(250).await;
    let run = run_of(&runs(&rt, &item).await, &done).clone();
    assert_eq!(run.status, RunStatus::Done, "{run:#?}");
    let tasks = rt.engine.list_tasks(T, &item).await.unwrap();
    assert_eq!(tasks.len(), 251);
    assert!(tasks.iter().all(|t| t.status == TaskStatus::Completed));
}

#[tokio::test]
async fn an_item_with_more_tasks_than_the_limit_fails_the_run_naming_it() {
    let (rt, item, done) = setup(MAX_TASKS_READ).await;
    let run = run_of(&runs(&rt, &item).await, &done).clone();
    assert_eq!(run.status, RunStatus::Failed, "{run:#?}");
    let reason = run.reason.unwrap_or_default();
    assert!(reason.contains("at most 1000"), "{reason}");
    let open = rt
        .engine
        .list_tasks(T, &item)
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.status != TaskStatus::Completed)
        .count();
    assert_eq!(open, 1, "nothing completed");
}
