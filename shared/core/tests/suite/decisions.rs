//! Decisions where the spec is silent (issue #9, items 6, 7, 9–12), end to
//! end on the in-memory ports with a manual clock.

use crate::common;

use chrono::Duration;
use common::*;
use crm_core::api::UserBody;
use crm_core::memory::MemRuntime;
use crm_core::model::{Item, RunStatus};
use serde_json::{Value, json};

/// `u-bert`, a user in Europe/Berlin (daylight saving).
async fn berlin_user(rt: &MemRuntime) {
    rt.engine
        .put_user(
            T,
            "u-bert",
            body::<UserBody>(json!({"name": "Bert Berlin", "time_zone": "Europe/Berlin"})),
        )
        .await
        .unwrap();
}

async fn item_of(rt: &MemRuntime, v: Value) -> Item {
    crm_core::testing::settled_item(rt, v).await
}

// ------------------------------------------------------------- 9. calendar days

#[tokio::test]
async fn one_day_is_the_same_wall_clock_time_across_the_spring_switch() {
    // Saturday 2026-03-28 10:00 CET; Berlin switches to CEST on Sunday 29th.
    let rt = company("2026-03-28T09:00:00Z").await;
    berlin_user(&rt).await;
    let r = robot(
        &rt,
        json!({"stage_id": "new", "type": "add_history_record",
        "delay": {"mode": "after", "amount": 1, "unit": "days"},
        "settings": {"text": "a day later"}}),
    )
    .await;
    let item = item_of(
        &rt,
        json!({"pipeline_id": "deals", "stage_id": "new",
        "title": "t", "responsible_id": "u-bert"}),
    )
    .await;
    let run = run_of(&runs(&rt, &item.id).await, &r.id).clone();
    // Sunday 10:00 CEST = 08:00 UTC: 23 elapsed hours, not 24.
    assert_eq!(run.due_at, Some(at("2026-03-29T08:00:00Z")));
    rt.advance(Duration::hours(23)).await.unwrap();
    let run = run_of(&runs(&rt, &item.id).await, &r.id).clone();
    assert_eq!(run.status, RunStatus::Done);
}

#[tokio::test]
async fn days_before_a_date_field_are_calendar_days_across_the_autumn_switch() {
    // Berlin leaves CEST on Sunday 2026-10-25; a meeting on Monday 26th 10:00 CET.
    let rt = company("2026-10-20T08:00:00Z").await;
    berlin_user(&rt).await;
    let r = robot(&rt, json!({"stage_id": "new", "type": "add_history_record",
        "delay": {"mode": "before_field", "amount": 2, "unit": "days", "field": "fields.meeting_at"},
        "settings": {"text": "two days before"}}))
    .await;
    let item = item_of(
        &rt,
        json!({"pipeline_id": "deals", "stage_id": "new",
        "title": "t", "responsible_id": "u-bert",
        "fields": {"meeting_at": "2026-10-26T09:00:00Z"}}),
    )
    .await;
    let run = run_of(&runs(&rt, &item.id).await, &r.id).clone();
    // Saturday 24th 10:00 CEST = 08:00 UTC (49 elapsed hours before).
    assert_eq!(run.due_at, Some(at("2026-10-24T08:00:00Z")));
}

#[tokio::test]
async fn hours_stay_elapsed_time_across_the_switch() {
    let rt = company("2026-03-28T09:00:00Z").await;
    berlin_user(&rt).await;
    let r = robot(
        &rt,
        json!({"stage_id": "new", "type": "add_history_record",
        "delay": {"mode": "after", "amount": 24, "unit": "hours"},
        "settings": {"text": "24 hours later"}}),
    )
    .await;
    let item = item_of(
        &rt,
        json!({"pipeline_id": "deals", "stage_id": "new",
        "title": "t", "responsible_id": "u-bert"}),
    )
    .await;
    let run = run_of(&runs(&rt, &item.id).await, &r.id).clone();
    assert_eq!(run.due_at, Some(at("2026-03-29T09:00:00Z")));
}

// ---------------------------------------------------------- 6. whole directory

fn directory(v: Value) -> crm_core::api::DirectoryBody {
    body(v)
}

#[tokio::test]
async fn a_directory_in_any_order_is_written_in_one_request() {
    let rt = company(MONDAY_1144_MSK).await;
    // The department's head and the user's department are both new, and
    // each names the other.
    let d = rt
        .engine
        .put_directory(
            T,
            directory(json!({
                "departments": [
                    {"id": "east", "name": "Sales East", "head_id": "u-eva", "parent_id": "sales"},
                    {"id": "east-b2b", "name": "B2B", "parent_id": "east"}
                ],
                "users": [
                    {"id": "u-eva", "name": "Eva", "department_id": "east", "time_zone": "Europe/Berlin"},
                    {"id": "u-olaf", "name": "Olaf", "department_id": "east-b2b"}
                ]
            })),
        )
        .await
        .unwrap();
    assert_eq!((d.departments.len(), d.users.len()), (2, 2));
    let east = rt.engine.get_department(T, "east").await.unwrap();
    assert_eq!(east.head_id.as_deref(), Some("u-eva"));
    let olaf = rt.engine.get_user(T, "u-olaf").await.unwrap();
    assert_eq!(olaf.department_id.as_deref(), Some("east-b2b"));
    assert_eq!(olaf.time_zone, "UTC");
}

#[tokio::test]
async fn a_directory_with_any_problem_writes_nothing() {
    let rt = company(MONDAY_1144_MSK).await;
    let err = rt
        .engine
        .put_directory(
            T,
            directory(json!({
                "departments": [
                    {"id": "east", "name": "East", "head_id": "u-eva"},
                    {"id": "west", "name": "West", "head_id": "u-nobody"}
                ],
                "users": [
                    {"id": "u-eva", "name": "Eva", "department_id": "east"},
                    {"id": "u-ivan", "name": "Ivan", "department_id": "north"}
                ]
            })),
        )
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("departments[1].head_id: unknown user 'u-nobody'"),
        "{msg}"
    );
    assert!(
        msg.contains("users[1].department_id: unknown department 'north'"),
        "{msg}"
    );
    assert!(rt.engine.get_department(T, "east").await.is_err());
    assert!(rt.engine.get_user(T, "u-eva").await.is_err());
}

#[tokio::test]
async fn a_cycle_of_parents_is_refused_in_the_directory_and_in_single_puts() {
    let rt = company(MONDAY_1144_MSK).await;
    // sales → a → b → sales (through the stored department)
    let err = rt
        .engine
        .put_directory(
            T,
            directory(json!({"departments": [
                {"id": "a", "name": "A", "parent_id": "b"},
                {"id": "b", "name": "B", "parent_id": "sales"},
                {"id": "sales", "name": "Sales", "head_id": "u-boss", "parent_id": "a"}
            ]})),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cycle"), "{err}");
    assert!(rt.engine.get_department(T, "a").await.is_err());
    assert_eq!(
        rt.engine
            .get_department(T, "sales")
            .await
            .unwrap()
            .parent_id,
        None
    );
    // One at a time: a → sales is fine, then sales → a closes the cycle.
    rt.engine
        .put_department(T, "a", body(json!({"name": "A", "parent_id": "sales"})))
        .await
        .unwrap();
    let err = rt
        .engine
        .put_department(T, "sales", body(json!({"name": "Sales", "parent_id": "a"})))
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("parent_id: a cycle"), "{err}");
}

#[tokio::test]
async fn a_directory_larger_than_one_transaction_is_refused_naming_the_limit() {
    let rt = company(MONDAY_1144_MSK).await;
    let users: Vec<Value> = (0..=crm_core::engine::MAX_DIRECTORY_WRITES)
        .map(|i| json!({"id": format!("u-{i}"), "name": format!("User {i}")}))
        .collect();
    let err = rt
        .engine
        .put_directory(T, directory(json!({"users": users})))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("at most 50 departments and users"),
        "{err}"
    );
    assert!(rt.engine.get_user(T, "u-0").await.is_err());
}

// ------------------------------------------------------- 10. sub-departments

/// `sales` gets a sub-department `east` (member `u-eva`), which has one of
/// its own, `east-b2b` (member `u-olaf`).
async fn sales_tree(rt: &MemRuntime) {
    rt.engine
        .put_directory(
            T,
            directory(json!({
                "departments": [
                    {"id": "east", "name": "Sales East", "parent_id": "sales"},
                    {"id": "east-b2b", "name": "B2B", "parent_id": "east"}
                ],
                "users": [
                    {"id": "u-eva", "name": "Eva", "department_id": "east"},
                    {"id": "u-olaf", "name": "Olaf", "department_id": "east-b2b"}
                ]
            })),
        )
        .await
        .unwrap();
}

async fn notified(rt: &MemRuntime, user: &str) -> usize {
    rt.engine.list_notifications(T, user).await.unwrap().len()
}

#[tokio::test]
async fn a_department_recipient_includes_its_sub_departments() {
    let rt = company(MONDAY_1144_MSK).await;
    sales_tree(&rt).await;
    robot(
        &rt,
        json!({"stage_id": "new", "type": "notify_employee",
        "settings": {"text": "new deal {{title}}", "department_ids": ["sales"]}}),
    )
    .await;
    deal(&rt, "new", 100.0).await;
    assert_eq!(notified(&rt, "u-anna").await, 1);
    assert_eq!(notified(&rt, "u-eva").await, 1);
    assert_eq!(notified(&rt, "u-olaf").await, 1);
}

#[tokio::test]
async fn direct_members_only_leaves_sub_departments_out() {
    let rt = company(MONDAY_1144_MSK).await;
    sales_tree(&rt).await;
    robot(&rt, json!({"stage_id": "new", "type": "notify_employee",
        "settings": {"text": "new deal", "department_ids": ["sales"], "direct_members_only": true}}))
    .await;
    robot(&rt, json!({"stage_id": "new", "type": "create_group_chat",
        "settings": {"name": "Deal {{title}}", "department_ids": ["east"], "member_ids": ["u-anna"]}}))
    .await;
    let item = deal(&rt, "new", 100.0).await;
    assert_eq!(notified(&rt, "u-anna").await, 1);
    assert_eq!(notified(&rt, "u-eva").await, 0);
    let chat_run = runs(&rt, &item.id)
        .await
        .into_iter()
        .find(|r| r.robot_type.as_deref() == Some("create_group_chat"))
        .unwrap();
    let chat_id = chat_run.outputs["chat_id"].as_str().unwrap().to_string();
    let (chat, _) = rt.engine.get_chat(T, &chat_id).await.unwrap();
    assert_eq!(chat.member_ids, ["u-anna", "u-eva", "u-olaf"]);
}

#[tokio::test]
async fn a_feed_post_to_a_department_reaches_its_sub_departments() {
    let rt = company(MONDAY_1144_MSK).await;
    sales_tree(&rt).await;
    robot(
        &rt,
        json!({"stage_id": "new", "type": "add_feed_post",
        "settings": {"text": "won {{title}}", "department_ids": ["sales"]}}),
    )
    .await;
    deal(&rt, "new", 100.0).await;
    let feed = rt.engine.list_feed(T).await.unwrap();
    assert_eq!(feed[0].department_ids, ["sales", "east", "east-b2b"]);
}

#[tokio::test]
async fn the_walk_of_sub_departments_is_bounded_and_cycle_safe() {
    let rt = company(MONDAY_1144_MSK).await;
    // A stored cycle (written by an older version, say): sales → loop-a → loop-b → sales.
    for (id, parent) in [
        ("loop-a", "sales"),
        ("loop-b", "loop-a"),
        ("sales", "loop-b"),
    ] {
        let d = json!({"id": id, "name": id, "head_id": null, "parent_id": parent});
        let (_, v) = rt
            .engine
            .ports()
            .store
            .get(&crm_core::ports::DocKey::new(
                T,
                crm_core::ports::Kind::Department,
                id,
            ))
            .await
            .unwrap()
            .map_or((None, 0), |d| (Some(d.body), d.version));
        rt.engine
            .ports()
            .store
            .transact(vec![crm_core::ports::Write::Put {
                doc: crm_core::ports::Doc {
                    key: crm_core::ports::DocKey::new(T, crm_core::ports::Kind::Department, id),
                    version: v + 1,
                    parent: Some("all".into()),
                    expires_at: None,
                    body: d,
                },
                cond: crm_core::ports::Cond::Any,
            }])
            .await
            .unwrap();
    }
    robot(
        &rt,
        json!({"stage_id": "new", "type": "notify_employee",
        "settings": {"text": "hi", "department_ids": ["sales"]}}),
    )
    .await;
    deal(&rt, "new", 100.0).await;
    assert_eq!(notified(&rt, "u-anna").await, 1);

    // A chain 20 levels deep under `design`: the run fails with the reason.
    let depts: Vec<Value> = (0..20)
        .map(|i| {
            let parent = if i == 0 {
                "design".to_string()
            } else {
                format!("deep-{}", i - 1)
            };
            json!({"id": format!("deep-{i}"), "name": "Deep", "parent_id": parent})
        })
        .collect();
    rt.engine
        .put_directory(T, directory(json!({"departments": depts})))
        .await
        .unwrap();
    let r = robot(
        &rt,
        json!({"stage_id": "prep", "type": "notify_employee",
        "settings": {"text": "hi", "department_ids": ["design"]}}),
    )
    .await;
    let item = deal(&rt, "prep", 100.0).await;
    let run = run_of(&runs(&rt, &item.id).await, &r.id).clone();
    assert_eq!(run.status, RunStatus::Failed);
    assert!(run.reason.unwrap().contains("more than 16 levels deep"));
}

// ------------------------------------------------------------ 12. copy fan-out

#[tokio::test]
async fn copies_of_one_chain_stop_at_the_budget() {
    let rt = company(MONDAY_1144_MSK).await;
    // Two robots that copy into their own stage: without a budget, 2,046
    // copies within the hop limit.
    for name in ["copy A", "copy B"] {
        robot(
            &rt,
            json!({"stage_id": "new", "type": "copy_item", "name": name,
            "settings": {"stage_id": "new"}}),
        )
        .await;
    }
    let item = deal(&rt, "new", 100.0).await;
    rt.settle().await.unwrap();
    let items = rt.store.count(crm_core::ports::Kind::Item);
    assert_eq!(items, 101, "the deal and 100 copies");
    // The runs past the budget say why.
    let mut stopped = 0;
    for d in rt.store.docs(crm_core::ports::Kind::Run) {
        let run: crm_core::model::RunRecord = serde_json::from_value(d.body).unwrap();
        if run.status == RunStatus::LoopStopped {
            assert!(
                run.reason
                    .as_deref()
                    .unwrap()
                    .contains("(limit 100 per chain)"),
                "{:?}",
                run.reason
            );
            assert_eq!(run.chain.id, runs(&rt, &item.id).await[0].chain.id);
            stopped += 1;
        }
    }
    assert!(stopped > 0);
    // Another chain (a person's new deal) has its own budget.
    let other = deal(&rt, "new", 5.0).await;
    let other_runs = runs(&rt, &other.id).await;
    assert_eq!(other_runs.len(), 2);
    assert!(other_runs.iter().all(|r| r.status == RunStatus::Done));
}

// ------------------------------------------------------------ 11. size limits

#[tokio::test]
async fn a_robot_whose_text_would_exceed_64_kib_fails_with_the_reason() {
    let rt = company(MONDAY_1144_MSK).await;
    let r = robot(
        &rt,
        json!({"stage_id": "new", "type": "add_timeline_comment",
        "settings": {"text": "{{fields.source}}".repeat(10)}}),
    )
    .await;
    let item = item_of(
        &rt,
        json!({"pipeline_id": "deals", "stage_id": "new",
        "title": "t", "responsible_id": "u-anna",
        "fields": {"source": "x".repeat(10 * 1024)}}),
    )
    .await;
    let run = run_of(&runs(&rt, &item.id).await, &r.id).clone();
    assert_eq!(run.status, RunStatus::Failed);
    assert!(
        run.reason.as_deref().unwrap().contains("limit 64 KiB"),
        "{:?}",
        run.reason
    );
    let timeline = rt.engine.timeline(T, &item.id).await.unwrap();
    assert!(timeline.iter().all(|e| e.kind != "comment"));
}

#[tokio::test]
async fn a_template_with_too_many_placeholders_is_refused_when_saved() {
    let rt = company(MONDAY_1144_MSK).await;
    let err = rt
        .engine
        .create_robot(
            T,
            "deals",
            body(json!({"stage_id": "new", "type": "add_timeline_comment",
            "settings": {"text": "{{title}}".repeat(1001)}})),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("settings.text: 1001 placeholders; at most 1000"),
        "{err}"
    );
}

#[tokio::test]
async fn a_field_value_over_16_kib_is_422() {
    let rt = company(MONDAY_1144_MSK).await;
    let err = rt
        .engine
        .create_item(
            T,
            body(
                json!({"pipeline_id": "deals", "title": "t", "responsible_id": "u-anna",
            "fields": {"source": "x".repeat(16 * 1024 + 1)}}),
            ),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with("fields.source: the value is"),
        "{err}"
    );
    let item = deal(&rt, "new", 1.0).await;
    let err = rt
        .engine
        .patch_item(
            T,
            &item.id,
            body(json!({"fields": {"source": "x".repeat(17 * 1024)}})),
            None,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("at most 16384"), "{err}");
    // An item larger than 256 KiB in all is refused too.
    let err = rt
        .engine
        .create_item(
            T,
            body(
                json!({"pipeline_id": "deals", "title": "x".repeat(300 * 1024),
            "responsible_id": "u-anna"}),
            ),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with("item: the item would be"),
        "{err}"
    );
}

#[tokio::test]
async fn modify_item_cannot_grow_a_field_past_its_limit() {
    let rt = company(MONDAY_1144_MSK).await;
    let r = robot(
        &rt,
        json!({"stage_id": "new", "type": "modify_item",
        "settings": {"fields": {"fields.source": "{{fields.source}}".repeat(10)}}}),
    )
    .await;
    let item = item_of(
        &rt,
        json!({"pipeline_id": "deals", "stage_id": "new",
        "title": "t", "responsible_id": "u-anna",
        "fields": {"source": "y".repeat(2 * 1024)}}),
    )
    .await;
    let run = run_of(&runs(&rt, &item.id).await, &r.id).clone();
    assert_eq!(run.status, RunStatus::Failed);
    assert!(
        run.reason.as_deref().unwrap().contains("at most 16384"),
        "{:?}",
        run.reason
    );
    let now = rt.engine.get_item(T, &item.id).await.unwrap();
    assert_eq!(now.fields["source"].as_str().unwrap().len(), 2 * 1024);
}

// ------------------------------------------------ 7. date-relative robots follow

/// A deal whose meeting is on Wednesday 10:00 UTC, with a robot one hour
/// before the meeting.
async fn meeting_deal(rt: &MemRuntime) -> (Item, String) {
    let r = robot(rt, json!({"stage_id": "new", "type": "add_history_record",
        "delay": {"mode": "before_field", "amount": 1, "unit": "hours", "field": "fields.meeting_at"},
        "settings": {"text": "meeting soon"}}))
    .await;
    let item = item_of(
        rt,
        json!({"pipeline_id": "deals", "stage_id": "new",
        "title": "t", "responsible_id": "u-anna",
        "fields": {"meeting_at": "2026-11-25T10:00:00Z"}}),
    )
    .await;
    let run = run_of(&runs(rt, &item.id).await, &r.id).clone();
    assert_eq!(run.due_at, Some(at("2026-11-25T09:00:00Z")));
    (item, r.id)
}

async fn set_meeting(rt: &MemRuntime, item: &str, v: Value) {
    rt.engine
        .patch_item(T, item, body(json!({"fields": {"meeting_at": v}})), None)
        .await
        .unwrap();
    rt.settle().await.unwrap();
}

async fn history(rt: &MemRuntime, item: &str) -> usize {
    rt.engine
        .timeline(T, item)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.kind == "info")
        .count()
}

#[tokio::test]
async fn a_pending_run_follows_its_date_field() {
    let rt = company(MONDAY_1144_MSK).await;
    let (item, robot_id) = meeting_deal(&rt).await;
    // The meeting moves a day later: the robot moves with it.
    set_meeting(&rt, &item.id, json!("2026-11-26T10:00:00Z")).await;
    let run = run_of(&runs(&rt, &item.id).await, &robot_id).clone();
    assert_eq!(run.status, RunStatus::Pending);
    assert_eq!(run.due_at, Some(at("2026-11-26T09:00:00Z")));
    assert_eq!(rt.jobs.next_due(), Some(at("2026-11-26T09:00:00Z")));
    // Nothing at the old time...
    rt.advance(Duration::hours(48)).await.unwrap(); // Wednesday 08:44
    rt.advance(Duration::hours(1)).await.unwrap(); // Wednesday 09:44
    assert_eq!(history(&rt, &item.id).await, 0);
    // ...and the note at the new one.
    rt.advance(Duration::hours(24)).await.unwrap();
    assert_eq!(history(&rt, &item.id).await, 1);
    let run = run_of(&runs(&rt, &item.id).await, &robot_id).clone();
    assert_eq!(run.status, RunStatus::Done);
    assert_eq!(run.finished_at, Some(at("2026-11-26T09:00:00Z")));
}

#[tokio::test]
async fn a_field_moved_earlier_brings_the_run_forward() {
    let rt = company(MONDAY_1144_MSK).await;
    let (item, robot_id) = meeting_deal(&rt).await;
    set_meeting(&rt, &item.id, json!("2026-11-23T12:00:00Z")).await;
    assert_eq!(
        run_of(&runs(&rt, &item.id).await, &robot_id).due_at,
        Some(at("2026-11-23T11:00:00Z"))
    );
    rt.advance(Duration::hours(3)).await.unwrap();
    assert_eq!(history(&rt, &item.id).await, 1);
}

#[tokio::test]
async fn a_cleared_field_skips_the_pending_run_with_the_reason() {
    let rt = company(MONDAY_1144_MSK).await;
    let (item, robot_id) = meeting_deal(&rt).await;
    set_meeting(&rt, &item.id, Value::Null).await;
    let run = run_of(&runs(&rt, &item.id).await, &robot_id).clone();
    assert_eq!(run.status, RunStatus::Skipped);
    assert!(
        run.reason
            .as_deref()
            .unwrap()
            .contains("'fields.meeting_at' was cleared"),
        "{:?}",
        run.reason
    );
    assert!(!rt.jobs.is_scheduled(T, &run.id));
    rt.advance(Duration::days(3)).await.unwrap();
    assert_eq!(history(&rt, &item.id).await, 0);
}

#[tokio::test]
async fn a_repeated_delivery_of_the_change_moves_the_run_once() {
    let rt = company(MONDAY_1144_MSK).await;
    let (item, robot_id) = meeting_deal(&rt).await;
    rt.engine
        .patch_item(
            T,
            &item.id,
            body(json!({"fields": {"meeting_at": "2026-11-26T10:00:00Z"}})),
            None,
        )
        .await
        .unwrap();
    let outbox = rt.engine.pending_outbox().await.unwrap();
    rt.settle().await.unwrap();
    let scheduled = rt.jobs.len();
    for d in outbox {
        rt.engine.process_outbox(d).await.unwrap();
    }
    rt.settle().await.unwrap();
    assert_eq!(rt.jobs.len(), scheduled);
    let run = run_of(&runs(&rt, &item.id).await, &robot_id).clone();
    assert_eq!(run.due_at, Some(at("2026-11-26T09:00:00Z")));
    rt.advance(Duration::days(4)).await.unwrap();
    assert_eq!(history(&rt, &item.id).await, 1);
}

#[tokio::test]
async fn another_field_or_an_ended_visit_leaves_the_run_alone() {
    let rt = company(MONDAY_1144_MSK).await;
    let (item, robot_id) = meeting_deal(&rt).await;
    rt.engine
        .patch_item(
            T,
            &item.id,
            body(json!({"fields": {"source": "web"}})),
            None,
        )
        .await
        .unwrap();
    rt.settle().await.unwrap();
    let run = run_of(&runs(&rt, &item.id).await, &robot_id).clone();
    assert_eq!(run.due_at, Some(at("2026-11-25T09:00:00Z")));
    move_to(&rt, &item.id, "prep").await;
    set_meeting(&rt, &item.id, json!("2026-11-26T10:00:00Z")).await;
    let run = run_of(&runs(&rt, &item.id).await, &robot_id).clone();
    assert_eq!(run.status, RunStatus::Cancelled);
    assert_eq!(run.due_at, Some(at("2026-11-25T09:00:00Z")));
}

#[test]
fn the_catalogue_documents_direct_members_only_and_the_copy_budget() {
    let c = crm_core::catalogue::catalogue();
    for name in ["notify_employee", "add_feed_post", "create_group_chat"] {
        let e = c.robots.iter().find(|e| e.name == name).unwrap();
        let p = &e.settings_schema["properties"]["direct_members_only"];
        assert!(
            p["description"]
                .as_str()
                .unwrap()
                .contains("sub-department"),
            "{name}: {p}"
        );
        assert_eq!(e.defaults["direct_members_only"], json!(false), "{name}");
    }
    let copy = c.robots.iter().find(|e| e.name == "copy_item").unwrap();
    assert!(
        copy.settings_schema["description"]
            .as_str()
            .unwrap()
            .contains("100 items"),
        "{}",
        copy.settings_schema
    );
}
