//! Issue #9: exact semantics — a change is a change of value, user fields
//! name users, the timeline in the order things happened, robot outputs
//! protected, deleting a robot cancels its pending runs.

use crate::common;

use common::*;
use crm_core::error::EngineError;
use crm_core::memory::MemRuntime;
use crm_core::model::{FieldDef, FieldType, RunStatus};
use serde_json::json;

fn fields_of(e: EngineError) -> Vec<(String, String)> {
    match e {
        EngineError::Unprocessable { details } => {
            details.into_iter().map(|d| (d.field, d.message)).collect()
        }
        e => panic!("expected a 422, got {e:?}"),
    }
}

/// `deals` with one more custom field, `manager` (a user).
async fn with_user_field(rt: &MemRuntime) {
    let mut p = rt.engine.get_pipeline(T, "deals").await.unwrap();
    p.fields.push(FieldDef {
        key: "manager".into(),
        field_type: FieldType::User,
        name: None,
        options: Vec::new(),
        multiple: false,
    });
    rt.engine
        .put_pipeline(T, "deals", body(serde_json::to_value(&p).unwrap()))
        .await
        .unwrap();
}

async fn budget_trigger(rt: &MemRuntime) {
    trigger(
        rt,
        json!({"stage_id": "prep", "type": "field_changed",
            "settings": {"fields": ["fields.budget", "amount"]}}),
    )
    .await;
}

async fn deal_with_budget(rt: &MemRuntime, budget: serde_json::Value) -> crm_core::model::Item {
    let mut d = crm_core::testing::deal("new", 5.0);
    d["fields"] = json!({"budget": budget});
    crm_core::testing::settled_item(rt, d).await
}

// ---------------------------------------------------------------- item 3

#[tokio::test]
async fn writing_the_same_number_in_another_spelling_is_no_change() {
    let rt = company(MONDAY_1144_MSK).await;
    budget_trigger(&rt).await;
    let item = deal_with_budget(&rt, json!(5)).await;
    let same = rt
        .engine
        .patch_item(
            T,
            &item.id,
            body(json!({"fields": {"budget": 5.0}, "amount": 5})),
            None,
        )
        .await
        .unwrap();
    rt.settle().await.unwrap();
    assert_eq!(
        same.version, item.version,
        "nothing changed, nothing written"
    );
    let now = rt.engine.get_item(T, &item.id).await.unwrap();
    assert_eq!(now.stage_id, "new", "no field_changed trigger fired");
    assert_eq!(
        now.fields["budget"],
        json!(5),
        "the stored spelling is kept"
    );
    let tl = rt.engine.timeline(T, &item.id).await.unwrap();
    assert!(!tl.iter().any(|e| e.kind == "fields_changed"), "{tl:#?}");
    // a real change still is one
    rt.engine
        .patch_item(T, &item.id, body(json!({"fields": {"budget": 5.5}})), None)
        .await
        .unwrap();
    rt.settle().await.unwrap();
    assert_eq!(
        rt.engine.get_item(T, &item.id).await.unwrap().stage_id,
        "prep"
    );
}

#[tokio::test]
async fn modify_item_writing_the_same_number_changes_nothing() {
    let rt = company(MONDAY_1144_MSK).await;
    budget_trigger(&rt).await;
    let r = robot(
        &rt,
        json!({"stage_id": "new", "type": "modify_item",
            "settings": {"fields": {"fields.budget": "5.0", "amount": 5.0}}}),
    )
    .await;
    let item = deal_with_budget(&rt, json!(5)).await;
    let run = run_of(&runs(&rt, &item.id).await, &r.id).clone();
    assert_eq!(run.status, RunStatus::Done);
    assert_eq!(run.reason.as_deref(), Some("no field changed"));
    let now = rt.engine.get_item(T, &item.id).await.unwrap();
    assert_eq!(now.stage_id, "new", "no field_changed trigger fired");
    assert_eq!(now.fields["budget"], json!(5));
}

// ---------------------------------------------------------------- item 4

#[tokio::test]
async fn user_fields_name_users_of_the_tenant() {
    let rt = company(MONDAY_1144_MSK).await;
    with_user_field(&rt).await;
    let mut d = crm_core::testing::deal("new", 1.0);
    d["fields"] = json!({"manager": "u-ghost"});
    let e = rt.engine.create_item(T, body(d.clone())).await.unwrap_err();
    assert_eq!(
        fields_of(e),
        [("fields.manager".into(), "unknown user 'u-ghost'".into())]
    );
    d["fields"] = json!({"manager": "u-dan"});
    let item = rt.engine.create_item(T, body(d)).await.unwrap();
    let e = rt
        .engine
        .patch_item(
            T,
            &item.id,
            body(json!({"fields": {"manager": "u-ghost"}})),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(
        fields_of(e),
        [("fields.manager".into(), "unknown user 'u-ghost'".into())]
    );
    // another tenant's users are unknown here
    assert_eq!(
        rt.engine.get_item(T, &item.id).await.unwrap().fields["manager"],
        "u-dan"
    );
}

#[tokio::test]
async fn modify_item_checks_user_fields_when_saved_and_when_run() {
    let rt = company(MONDAY_1144_MSK).await;
    with_user_field(&rt).await;
    let e = rt
        .engine
        .create_robot(
            T,
            "deals",
            body(json!({"stage_id": "new", "type": "modify_item",
                "settings": {"fields": {"fields.manager": "u-ghost"}}})),
        )
        .await
        .unwrap_err();
    assert_eq!(
        fields_of(e),
        [(
            "settings.fields.fields.manager".into(),
            "unknown user 'u-ghost'".into()
        )]
    );
    // rendered: checked when it runs
    let r = robot(
        &rt,
        json!({"stage_id": "new", "type": "modify_item",
            "settings": {"fields": {"fields.manager": "{{fields.source}}"}}}),
    )
    .await;
    let mut d = crm_core::testing::deal("new", 1.0);
    d["fields"] = json!({"source": "u-ghost"});
    let item = crm_core::testing::settled_item(&rt, d).await;
    let run = run_of(&runs(&rt, &item.id).await, &r.id).clone();
    assert_eq!(run.status, RunStatus::Failed);
    assert!(
        run.reason
            .as_deref()
            .unwrap_or_default()
            .contains("user 'u-ghost' not found"),
        "{run:?}"
    );
    assert!(
        !rt.engine
            .get_item(T, &item.id)
            .await
            .unwrap()
            .fields
            .contains_key("manager")
    );
    // a known user is set
    let mut d = crm_core::testing::deal("new", 1.0);
    d["fields"] = json!({"source": "u-dan"});
    let item = crm_core::testing::settled_item(&rt, d).await;
    assert_eq!(
        rt.engine.get_item(T, &item.id).await.unwrap().fields["manager"],
        "u-dan"
    );
}

// ---------------------------------------------------------------- item 2

fn kinds(tl: &[crm_core::model::TimelineEntry]) -> Vec<&str> {
    tl.iter().map(|e| e.kind.as_str()).collect()
}

#[tokio::test]
async fn the_timeline_lists_entries_written_in_one_instant_in_the_order_they_happened() {
    let rt = company(MONDAY_1144_MSK).await;
    robot(
        &rt,
        json!({"stage_id": "new", "type": "add_timeline_comment", "settings": {"text": "first"}}),
    )
    .await;
    robot(
        &rt,
        json!({"stage_id": "new", "type": "plan_activity", "after_previous": true,
            "settings": {"description": "call", "activity_type": "call"}}),
    )
    .await;
    robot(
        &rt,
        json!({"stage_id": "new", "type": "change_stage", "after_previous": true,
            "settings": {"stage_id": "won"}}),
    )
    .await;
    robot(
        &rt,
        json!({"stage_id": "won", "type": "add_history_record", "settings": {"text": "won it"}}),
    )
    .await;
    robot(
        &rt,
        json!({"stage_id": "won", "type": "delete_item", "after_previous": true}),
    )
    .await;
    let item = crm_core::testing::settled_item(&rt, crm_core::testing::plain_deal("X")).await;
    let tl = rt.engine.timeline(T, &item.id).await.unwrap();
    // all in the same instant (the clock did not move)
    assert!(tl.iter().all(|e| e.at == tl[0].at));
    assert_eq!(
        kinds(&tl),
        [
            "created",
            "comment",
            "activity_planned",
            "stage_changed",
            "activity_completed",
            "info",
            "deleted"
        ],
        "{tl:#?}"
    );
}

#[tokio::test]
async fn a_fields_change_and_the_move_it_causes_are_listed_in_order() {
    let rt = company(MONDAY_1144_MSK).await;
    budget_trigger(&rt).await;
    let item = crm_core::testing::settled_item(&rt, crm_core::testing::plain_deal("X")).await;
    // a change, then the trigger's move it causes, then a person's move, same instant
    rt.engine
        .patch_item(T, &item.id, body(json!({"fields": {"budget": 7}})), None)
        .await
        .unwrap();
    rt.settle().await.unwrap();
    rt.engine
        .patch_item(
            T,
            &item.id,
            body(json!({"stage_id": "new", "title": "Y"})),
            None,
        )
        .await
        .unwrap();
    rt.settle().await.unwrap();
    let tl = rt.engine.timeline(T, &item.id).await.unwrap();
    assert_eq!(
        kinds(&tl),
        [
            "created",
            "fields_changed",
            "stage_changed",
            "stage_changed",
            "fields_changed"
        ],
        "{tl:#?}"
    );
    assert_eq!(tl[2].data["to"], "prep");
    assert_eq!(tl[3].data["to"], "new");
}

#[tokio::test]
async fn a_task_completed_by_a_person_comes_before_the_move_it_triggers() {
    let rt = company(MONDAY_1144_MSK).await;
    robot(
        &rt,
        json!({"stage_id": "new", "type": "create_task",
            "settings": {"title": "design", "responsible_id": "u-dan"}}),
    )
    .await;
    trigger(
        &rt,
        json!({"stage_id": "prep", "type": "task_status", "settings": {"status": "completed"}}),
    )
    .await;
    let item = crm_core::testing::settled_item(&rt, crm_core::testing::plain_deal("X")).await;
    let task = rt.engine.list_tasks(T, &item.id).await.unwrap()[0].clone();
    let before = rt.engine.get_item(T, &item.id).await.unwrap();
    rt.engine
        .patch_task(T, &task.id, body(json!({"status": "completed"})))
        .await
        .unwrap();
    rt.settle().await.unwrap();
    let tl = rt.engine.timeline(T, &item.id).await.unwrap();
    assert_eq!(
        kinds(&tl),
        ["created", "task_created", "task_completed", "stage_changed"],
        "{tl:#?}"
    );
    let after = rt.engine.get_item(T, &item.id).await.unwrap();
    assert_eq!(after.stage_id, "prep");
    // the timeline does not change the item's version: only the move did
    assert_eq!(after.version, before.version + 1);
}

// ---------------------------------------------------------------- item 1

fn chat_robot() -> serde_json::Value {
    json!({"stage_id": "new", "type": "create_group_chat", "name": "Deal chat",
        "settings": {"name": "{{title}}", "member_ids": ["u-anna", "u-boss"]}})
}

#[tokio::test]
async fn a_robot_whose_output_is_used_cannot_lose_it() {
    let rt = company(MONDAY_1144_MSK).await;
    let chat = robot(&rt, chat_robot()).await;
    let uses = format!("{{{{robot.{}.chat_id}}}}", chat.id);
    let msg = robot(
        &rt,
        json!({"stage_id": "new", "type": "send_chat_message",
            "settings": {"chat_id": uses, "sender_id": "u-boss", "text": "hi"}}),
    )
    .await;
    let modify = robot(
        &rt,
        json!({"stage_id": "new", "type": "modify_item",
            "settings": {"fields": {"fields.source": uses}}}),
    )
    .await;
    let cond = robot(
        &rt,
        json!({"stage_id": "new", "type": "add_timeline_comment",
            "condition": {"field": format!("robot.{}.chat_id", chat.id), "op": "not_empty"},
            "settings": {"text": "chat made"}}),
    )
    .await;
    // an unrelated robot of the stage is not named
    robot(
        &rt,
        json!({"stage_id": "new", "type": "add_timeline_comment", "settings": {"text": "x"}}),
    )
    .await;
    let named =
        |e: EngineError| -> Vec<String> { fields_of(e).into_iter().map(|(f, _)| f).collect() };
    let all = vec![
        format!("robots.{}", msg.id),
        format!("robots.{}", modify.id),
        format!("robots.{}", cond.id),
    ];

    // another type (no chat_id output)
    let e = rt
        .engine
        .update_robot(
            T,
            "deals",
            &chat.id,
            body(json!({"stage_id": "new", "type": "notify_supervisor",
                "settings": {"text": "x"}})),
        )
        .await
        .unwrap_err();
    assert_eq!(named(e), all);
    // another stage
    let mut moved = chat_robot();
    moved["stage_id"] = json!("prep");
    let e = rt
        .engine
        .update_robot(T, "deals", &chat.id, body(moved))
        .await
        .unwrap_err();
    let details = fields_of(e);
    assert_eq!(details.len(), 3);
    assert!(details[0].1.contains(&msg.id), "{details:?}");
    // deleted
    let e = rt
        .engine
        .delete_robot(T, "deals", &chat.id)
        .await
        .unwrap_err();
    assert_eq!(named(e), all);
    assert!(rt.engine.get_robot(T, "deals", &chat.id).await.is_ok());

    // an edit that keeps the output is fine
    let mut renamed = chat_robot();
    renamed["name"] = json!("Project chat");
    rt.engine
        .update_robot(T, "deals", &chat.id, body(renamed))
        .await
        .unwrap();
    // once nothing uses it, it can go
    for r in [&msg.id, &modify.id, &cond.id] {
        rt.engine.delete_robot(T, "deals", r).await.unwrap();
    }
    rt.engine.delete_robot(T, "deals", &chat.id).await.unwrap();
}

// ---------------------------------------------------------------- item 8

#[tokio::test]
async fn deleting_a_robot_cancels_its_pending_runs_and_editing_one_applies_to_new_visits() {
    let rt = company(MONDAY_1144_MSK).await;
    let day = json!({"mode": "after", "amount": 1, "unit": "days"});
    let doomed = robot(
        &rt,
        json!({"stage_id": "new", "type": "notify_supervisor", "delay": day,
            "settings": {"text": "doomed {{title}}"}}),
    )
    .await;
    let edited = robot(
        &rt,
        json!({"stage_id": "new", "type": "notify_supervisor", "delay": day,
            "settings": {"text": "before {{title}}"}}),
    )
    .await;
    let a = crm_core::testing::settled_item(&rt, crm_core::testing::plain_deal("A")).await;
    let b = crm_core::testing::settled_item(&rt, crm_core::testing::plain_deal("B")).await;
    assert_eq!(pending_index(&rt, &doomed.id).await, 2);
    let run_a = crm_core::planning::run_id(&a.id, 1, &doomed.id);
    assert!(rt.jobs.is_scheduled(T, &run_a));

    rt.engine
        .delete_robot(T, "deals", &doomed.id)
        .await
        .unwrap();
    for item in [&a, &b] {
        let run = run_of(&runs(&rt, &item.id).await, &doomed.id).clone();
        assert_eq!(run.status, RunStatus::Cancelled);
        assert!(
            run.reason
                .as_deref()
                .unwrap_or_default()
                .contains("robot deleted"),
            "{run:?}"
        );
    }
    assert!(!rt.jobs.is_scheduled(T, &run_a), "the timer is cancelled");
    assert_eq!(pending_index(&rt, &doomed.id).await, 0);

    // editing: pending runs keep the settings they were planned with
    rt.engine
        .update_robot(
            T,
            "deals",
            &edited.id,
            body(
                json!({"stage_id": "new", "type": "notify_supervisor", "delay": day,
                "settings": {"text": "after {{title}}"}}),
            ),
        )
        .await
        .unwrap();
    let c = crm_core::testing::settled_item(&rt, crm_core::testing::plain_deal("C")).await;
    rt.advance(chrono::Duration::days(2)).await.unwrap();
    let mut texts: Vec<String> = rt
        .engine
        .list_notifications(T, "u-boss")
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.text)
        .collect();
    texts.sort();
    assert_eq!(texts, ["after C", "before A", "before B"]);
    assert_eq!(
        pending_index(&rt, &edited.id).await,
        0,
        "finished runs leave the index"
    );
    assert_eq!(
        run_of(&runs(&rt, &c.id).await, &edited.id).status,
        RunStatus::Done
    );
}

/// An immediate robot's run has no entry in the pending-run index (issue
/// #11: no index put at planning, no delete at the commit); deleting the
/// robot while its job is queued still cancels it, by the runner.
#[tokio::test]
async fn an_immediate_run_is_not_indexed_and_its_deleted_robot_still_cancels_it() {
    let rt = company(MONDAY_1144_MSK).await;
    let now = robot(
        &rt,
        json!({"stage_id": "new", "type": "notify_supervisor",
            "settings": {"text": "now {{title}}"}}),
    )
    .await;
    let later = robot(
        &rt,
        json!({"stage_id": "new", "type": "notify_supervisor",
            "delay": {"mode": "after", "amount": 1, "unit": "hours"},
            "settings": {"text": "later {{title}}"}}),
    )
    .await;
    let item = rt
        .engine
        .create_item(T, body(crm_core::testing::plain_deal("A")))
        .await
        .unwrap();
    // Plan the visit (the outbox), but run no job yet.
    for d in rt.engine.pending_outbox().await.unwrap() {
        rt.engine.process_outbox(d).await.unwrap();
    }
    let planned = runs(&rt, &item.id).await;
    assert_eq!(run_of(&planned, &now.id).status, RunStatus::Pending);
    assert_eq!(pending_index(&rt, &now.id).await, 0, "immediate: no entry");
    assert_eq!(pending_index(&rt, &later.id).await, 1, "delayed: indexed");

    rt.engine.delete_robot(T, "deals", &now.id).await.unwrap();
    rt.settle().await.unwrap();
    let run = run_of(&runs(&rt, &item.id).await, &now.id).clone();
    assert_eq!(run.status, RunStatus::Cancelled, "{run:?}");
    assert!(
        run.reason
            .as_deref()
            .unwrap_or_default()
            .contains("robot deleted"),
        "{run:?}"
    );
    let texts: Vec<String> = rt
        .engine
        .list_notifications(T, "u-boss")
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.text)
        .collect();
    assert!(texts.is_empty(), "the deleted robot did nothing: {texts:?}");

    // The delayed one runs and leaves the index; the store holds no entry.
    rt.advance(chrono::Duration::hours(2)).await.unwrap();
    assert_eq!(
        run_of(&runs(&rt, &item.id).await, &later.id).status,
        RunStatus::Done
    );
    assert_eq!(pending_index(&rt, &later.id).await, 0);
    assert_eq!(rt.store.count(crm_core::ports::Kind::PendingRun), 0);
}

#[tokio::test]
async fn the_robot_after_a_deleted_one_still_runs() {
    let rt = company(MONDAY_1144_MSK).await;
    let hour = json!({"mode": "after", "amount": 1, "unit": "hours"});
    let first = robot(
        &rt,
        json!({"stage_id": "new", "type": "add_timeline_comment", "delay": hour,
            "settings": {"text": "first"}}),
    )
    .await;
    let middle = robot(
        &rt,
        json!({"stage_id": "new", "type": "add_timeline_comment", "after_previous": true,
            "delay": hour, "settings": {"text": "middle"}}),
    )
    .await;
    let last = robot(
        &rt,
        json!({"stage_id": "new", "type": "add_timeline_comment", "after_previous": true,
            "settings": {"text": "last"}}),
    )
    .await;
    let item = crm_core::testing::settled_item(&rt, crm_core::testing::plain_deal("X")).await;
    // the middle one is deleted while it waits: the last waits for the first
    rt.engine
        .delete_robot(T, "deals", &middle.id)
        .await
        .unwrap();
    rt.advance(chrono::Duration::hours(2)).await.unwrap();
    let all = runs(&rt, &item.id).await;
    assert_eq!(run_of(&all, &first.id).status, RunStatus::Done);
    assert_eq!(run_of(&all, &middle.id).status, RunStatus::Cancelled);
    assert_eq!(run_of(&all, &last.id).status, RunStatus::Done);
    assert_eq!(comments(&rt, &item.id).await, ["first", "last"]);

    // the first robot of a stage deleted while it waits: the next one
    // starts its delay at once
    let next = robot(
        &rt,
        json!({"stage_id": "prep", "type": "add_timeline_comment", "delay": hour,
            "settings": {"text": "p1"}}),
    )
    .await;
    let after = robot(
        &rt,
        json!({"stage_id": "prep", "type": "add_timeline_comment", "after_previous": true,
            "settings": {"text": "p2"}}),
    )
    .await;
    move_to(&rt, &item.id, "prep").await;
    rt.engine.delete_robot(T, "deals", &next.id).await.unwrap();
    rt.settle().await.unwrap();
    let all = runs(&rt, &item.id).await;
    assert_eq!(run_of(&all, &next.id).status, RunStatus::Cancelled);
    assert_eq!(run_of(&all, &after.id).status, RunStatus::Done, "{all:#?}");
}

#[tokio::test]
async fn a_run_of_a_robot_that_is_gone_is_cancelled_when_it_comes_due() {
    use crm_core::ports::{Cond, DocKey, DocStore, Kind, Write};
    let rt = company(MONDAY_1144_MSK).await;
    let r = robot(
        &rt,
        json!({"stage_id": "new", "type": "add_timeline_comment",
            "delay": {"mode": "after", "amount": 1, "unit": "hours"},
            "settings": {"text": "hello"}}),
    )
    .await;
    let item = crm_core::testing::settled_item(&rt, crm_core::testing::plain_deal("X")).await;
    // gone without the engine's cancellation (deleted while the visit was planned)
    rt.store
        .transact(vec![Write::Delete {
            key: DocKey::new(T, Kind::Robot, &r.id),
            parent: Some("deals".into()),
            cond: Cond::Any,
        }])
        .await
        .unwrap();
    rt.advance(chrono::Duration::hours(2)).await.unwrap();
    let run = run_of(&runs(&rt, &item.id).await, &r.id).clone();
    assert_eq!(run.status, RunStatus::Cancelled);
    assert!(run.reason.unwrap().contains("robot deleted"));
    assert!(comments(&rt, &item.id).await.is_empty());
}
