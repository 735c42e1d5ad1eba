//! The seeds' examples, end to end on the in-memory ports with a manual clock.

use crate::common;

use chrono::Duration;
use common::*;
use crm_core::model::{RunStatus, TaskStatus};
use crm_core::ports::Clock;
use serde_json::json;

#[tokio::test]
async fn supervisor_notified_after_a_day_in_the_stage() {
    let rt = company(MONDAY_1144_MSK).await;
    let r = robot(&rt, json!({"stage_id": "new", "type": "notify_supervisor", "name": "Escalate",
        "delay": {"mode": "after", "amount": 1, "unit": "days"},
        "settings": {"text": "{{responsible.name}} did not move {{title}} ({{amount}} {{currency}})"}})).await;
    let item = deal(&rt, "new", 15000.0).await;
    assert_eq!(
        run_of(&runs(&rt, &item.id).await, &r.id).status,
        RunStatus::Pending
    );

    rt.advance(Duration::hours(23)).await.unwrap();
    assert!(
        rt.engine
            .list_notifications(T, "u-boss")
            .await
            .unwrap()
            .is_empty()
    );

    rt.advance(Duration::hours(1)).await.unwrap();
    let n = rt.engine.list_notifications(T, "u-boss").await.unwrap();
    assert_eq!(n.len(), 1);
    assert_eq!(
        n[0].text,
        "Anna Sales did not move Website for Romashka (15000 RUB)"
    );
    assert_eq!(n[0].at, at("2026-11-24T08:44:00Z"));
    let run = run_of(&runs(&rt, &item.id).await, &r.id).clone();
    assert_eq!(run.status, RunStatus::Done);
    assert_eq!(run.finished_at, Some(at("2026-11-24T08:44:00Z")));
}

#[tokio::test]
async fn moved_before_the_day_is_over_cancels_the_notification() {
    let rt = company(MONDAY_1144_MSK).await;
    let r = robot(
        &rt,
        json!({"stage_id": "new", "type": "notify_supervisor",
        "delay": {"mode": "after", "amount": 1, "unit": "days"},
        "settings": {"text": "still here: {{title}}"}}),
    )
    .await;
    let item = deal(&rt, "new", 100.0).await;
    assert!(
        rt.jobs
            .is_scheduled(T, &crm_core::planning::run_id(&item.id, 1, &r.id))
    );

    rt.advance(Duration::hours(5)).await.unwrap();
    move_to(&rt, &item.id, "prep").await;
    // the timer is tidied up, and even a late delivery would be cancelled
    assert!(
        !rt.jobs
            .is_scheduled(T, &crm_core::planning::run_id(&item.id, 1, &r.id))
    );
    rt.advance(Duration::days(2)).await.unwrap();

    assert!(
        rt.engine
            .list_notifications(T, "u-boss")
            .await
            .unwrap()
            .is_empty()
    );
    let run = run_of(&runs(&rt, &item.id).await, &r.id).clone();
    assert_eq!(run.status, RunStatus::Cancelled);
    assert!(run.reason.unwrap().contains("left stage 'new'"));
}

#[tokio::test]
async fn a_late_job_for_an_ended_visit_is_cancelled_not_executed() {
    let rt = company(MONDAY_1144_MSK).await;
    let r = robot(
        &rt,
        json!({"stage_id": "new", "type": "add_timeline_comment",
        "settings": {"text": "hello"}}),
    )
    .await;
    let item = rt
        .engine
        .create_item(
            T,
            body(json!({"pipeline_id": "deals", "title": "X",
        "responsible_id": "u-anna"})),
        )
        .await
        .unwrap();
    // Process only the planning, not the job: then the item moves on.
    for d in rt.engine.pending_outbox().await.unwrap() {
        rt.engine.process_outbox(d).await.unwrap();
    }
    let job = rt
        .jobs
        .pop_due(rt.clock.now())
        .expect("immediate job queued");
    rt.engine
        .patch_item(T, &item.id, body(json!({"stage_id": "prep"})), None)
        .await
        .unwrap();
    // The job arrives before the stage-change step ran (the race the visit check exists for).
    rt.engine.run_job(job).await.unwrap();
    rt.settle().await.unwrap();
    let tl = rt.engine.timeline(T, &item.id).await.unwrap();
    assert!(!tl.iter().any(|e| e.kind == "comment"));
    assert_eq!(
        run_of(&runs(&rt, &item.id).await, &r.id).status,
        RunStatus::Cancelled
    );
}

#[tokio::test]
async fn history_record_written_by_the_supervisor() {
    let rt = company(MONDAY_1144_MSK).await;
    robot(
        &rt,
        json!({"stage_id": "prep", "type": "add_history_record",
        "settings": {"text": "Deal {{title}} needs a design project", "author_id": "supervisor"}}),
    )
    .await;
    let item = deal(&rt, "new", 1.0).await;
    move_to(&rt, &item.id, "prep").await;
    let tl = rt.engine.timeline(T, &item.id).await.unwrap();
    let info: Vec<_> = tl.iter().filter(|e| e.kind == "info").collect();
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].author_id.as_deref(), Some("u-boss"));
    assert_eq!(
        info[0].text,
        "Deal Website for Romashka needs a design project"
    );
}

#[tokio::test]
async fn design_task_then_completed_task_moves_the_deal_then_won_completes_tasks() {
    let rt = company(MONDAY_1144_MSK).await;
    let task_robot = robot(&rt, json!({"stage_id": "prep", "type": "create_task",
        "settings": {"title": "Prepare a design project for {{title}}", "description": "Budget {{amount}} {{currency}}",
            "responsible_id": "u-dina", "accomplice_ids": ["u-dan"], "deadline": {"amount": 3, "unit": "days"}}})).await;
    trigger(&rt, json!({"stage_id": "presentation", "type": "task_status", "name": "Design ready",
        "execute_as": "u-boss",
        "settings": {"status": "completed", "task_filter": {"field": "title", "op": "contains", "value": "design project"}}})).await;
    let item = deal(&rt, "new", 50000.0).await;
    move_to(&rt, &item.id, "prep").await;

    let tasks = rt.engine.list_tasks(T, &item.id).await.unwrap();
    assert_eq!(tasks.len(), 1);
    let task = &tasks[0];
    assert_eq!(
        task.title,
        "Prepare a design project for Website for Romashka"
    );
    assert_eq!(task.description, "Budget 50000 RUB");
    assert_eq!(task.responsible_id, "u-dina");
    assert_eq!(task.deadline, Some(at("2026-11-26T08:44:00Z")));
    let run = run_of(&runs(&rt, &item.id).await, &task_robot.id).clone();
    assert_eq!(run.outputs["task_id"], json!(task.id));

    // The designer completes the task → the trigger moves the deal, on the boss's behalf.
    rt.advance(Duration::hours(2)).await.unwrap();
    rt.engine
        .patch_task(
            T,
            &task.id,
            body(json!({"status": "completed", "author_id": "u-dina"})),
        )
        .await
        .unwrap();
    rt.settle().await.unwrap();
    let moved = rt.engine.get_item(T, &item.id).await.unwrap();
    assert_eq!(moved.stage_id, "presentation");
    let tl = rt.engine.timeline(T, &item.id).await.unwrap();
    let last_move = tl.iter().rfind(|e| e.kind == "stage_changed").unwrap();
    assert_eq!(last_move.author_id.as_deref(), Some("u-boss"));
    let trig = runs(&rt, &item.id)
        .await
        .into_iter()
        .find(|r| r.trigger_id.is_some())
        .unwrap();
    assert_eq!(trig.status, RunStatus::Done);

    // Won: the robot completes the open tasks the robots made on "prep".
    let rt2 = company(MONDAY_1144_MSK).await;
    robot(
        &rt2,
        json!({"stage_id": "prep", "type": "create_task",
        "settings": {"title": "Design for {{title}}", "responsible_id": "u-dina"}}),
    )
    .await;
    robot(
        &rt2,
        json!({"stage_id": "won", "type": "complete_task",
        "settings": {"stage_ids": ["prep"]}}),
    )
    .await;
    let d2 = deal(&rt2, "prep", 10.0).await;
    assert_eq!(
        rt2.engine.list_tasks(T, &d2.id).await.unwrap()[0].status,
        TaskStatus::Pending
    );
    move_to(&rt2, &d2.id, "won").await;
    let t2 = rt2.engine.list_tasks(T, &d2.id).await.unwrap();
    assert_eq!(t2[0].status, TaskStatus::Completed);
    assert!(
        rt2.engine
            .timeline(T, &d2.id)
            .await
            .unwrap()
            .iter()
            .any(|e| e.kind == "task_completed")
    );
}

#[tokio::test]
async fn activity_due_in_working_hours() {
    // 11:44 Moscow + 2 working hours → 13:44
    let rt = company(MONDAY_1144_MSK).await;
    robot(
        &rt,
        json!({"stage_id": "new", "type": "plan_activity",
        "settings": {"description": "Call the client", "activity_type": "call",
            "deadline": {"amount": 2, "unit": "hours"}, "respect_working_hours": true}}),
    )
    .await;
    let a = deal(&rt, "new", 1.0).await;
    let acts = rt.engine.list_activities(T, &a.id).await.unwrap();
    assert_eq!(acts[0].deadline, at("2026-11-23T10:44:00Z"));

    // 17:30 Moscow + 2 working hours → 10:30 the next working day
    rt.clock.set(at("2026-11-23T14:30:00Z"));
    let b = deal(&rt, "new", 1.0).await;
    let acts = rt.engine.list_activities(T, &b.id).await.unwrap();
    assert_eq!(acts[0].deadline, at("2026-11-24T07:30:00Z"));

    // Friday 17:30 → Monday 10:30
    rt.clock.set(at("2026-11-27T14:30:00Z"));
    let c = deal(&rt, "new", 1.0).await;
    assert_eq!(
        rt.engine.list_activities(T, &c.id).await.unwrap()[0].deadline,
        at("2026-11-30T07:30:00Z")
    );

    // leaving the stage completes the activity (auto_complete defaults to on)
    move_to(&rt, &c.id, "prep").await;
    assert!(rt.engine.list_activities(T, &c.id).await.unwrap()[0].completed);
}

#[tokio::test]
async fn robot_delay_respects_working_hours() {
    let rt = company("2026-11-23T14:30:00Z").await; // Monday 17:30 Moscow
    let r = robot(
        &rt,
        json!({"stage_id": "new", "type": "add_timeline_comment",
        "delay": {"mode": "after", "amount": 2, "unit": "hours"}, "respect_working_hours": true,
        "settings": {"text": "Contact the client"}}),
    )
    .await;
    let item = deal(&rt, "new", 1.0).await;
    let run = run_of(&runs(&rt, &item.id).await, &r.id).clone();
    assert_eq!(run.due_at, Some(at("2026-11-24T07:30:00Z")));
}

#[tokio::test]
async fn group_chat_lawyer_only_for_big_deals_and_message_uses_chat_output() {
    let rt = company(MONDAY_1144_MSK).await;
    let chat = robot(
        &rt,
        json!({"stage_id": "prep", "type": "create_group_chat",
        "settings": {"name": "Deal {{title}}", "member_ids": ["responsible", "u-dina"]}}),
    )
    .await;
    robot(&rt, json!({"stage_id": "prep", "type": "add_chat_members", "after_previous": true,
        "condition": {"field": "amount", "op": "gt", "value": 10000},
        "settings": {"chat_id": format!("{{{{robot.{}.chat_id}}}}", chat.id), "user_ids": ["u-lara"], "show_history": true}})).await;
    let msg = robot(&rt, json!({"stage_id": "prep", "type": "send_chat_message", "after_previous": true,
        "settings": {"chat_id": format!("{{{{robot.{}.chat_id}}}}", chat.id), "message_type": "important",
            "text": "New project {{title}} for {{amount}} {{currency}}"}})).await;

    let big = deal(&rt, "new", 25000.0).await;
    move_to(&rt, &big.id, "prep").await;
    let small = deal(&rt, "new", 500.0).await;
    move_to(&rt, &small.id, "prep").await;

    for (item, lawyer) in [(&big, true), (&small, false)] {
        let rs = runs(&rt, &item.id).await;
        let chat_id = run_of(&rs, &chat.id).outputs["chat_id"]
            .as_str()
            .unwrap()
            .to_string();
        let (c, messages) = rt.engine.get_chat(T, &chat_id).await.unwrap();
        assert_eq!(
            c.member_ids.contains(&"u-lara".to_string()),
            lawyer,
            "{c:?}"
        );
        assert!(c.member_ids.contains(&"u-anna".to_string()));
        assert_eq!(messages.len(), 1);
        assert_eq!(
            messages[0].text,
            format!("New project Website for Romashka for {} RUB", item.amount)
        );
        assert_eq!(
            run_of(&rs, &msg.id).outputs["message_id"],
            json!(messages[0].id)
        );
    }
    let rs = runs(&rt, &small.id).await;
    let skipped = rs
        .iter()
        .find(|r| r.robot_type.as_deref() == Some("add_chat_members"))
        .unwrap();
    assert_eq!(skipped.status, RunStatus::Skipped);
    assert!(skipped.reason.as_ref().unwrap().contains("condition"));
}

#[tokio::test]
async fn robots_are_not_retroactive() {
    let rt = company(MONDAY_1144_MSK).await;
    let item = deal(&rt, "new", 1.0).await;
    robot(
        &rt,
        json!({"stage_id": "new", "type": "add_timeline_comment", "settings": {"text": "x"}}),
    )
    .await;
    rt.advance(Duration::hours(1)).await.unwrap();
    assert!(
        runs(&rt, &item.id)
            .await
            .iter()
            .all(|r| r.robot_id.is_none())
    );
}

#[tokio::test]
async fn ping_pong_robots_are_stopped_by_the_hop_limit() {
    let rt = company(MONDAY_1144_MSK).await;
    robot(&rt, json!({"stage_id": "prep", "type": "change_stage", "settings": {"stage_id": "presentation"}})).await;
    robot(&rt, json!({"stage_id": "presentation", "type": "change_stage", "settings": {"stage_id": "prep"}})).await;
    let item = deal(&rt, "new", 1.0).await;
    move_to(&rt, &item.id, "prep").await;
    let rs = runs(&rt, &item.id).await;
    let done = rs.iter().filter(|r| r.status == RunStatus::Done).count();
    let stopped: Vec<_> = rs
        .iter()
        .filter(|r| r.status == RunStatus::LoopStopped)
        .collect();
    assert_eq!(done, 10, "max_hops automatic moves, then stop");
    assert_eq!(stopped.len(), 1);
    assert!(stopped[0].reason.as_ref().unwrap().contains("loop stopped"));
    assert!(rt.jobs.is_empty());
}

#[tokio::test]
async fn trigger_robot_trigger_loops_are_stopped_too() {
    let rt = company(MONDAY_1144_MSK).await;
    // prep: robot bumps a field; field_changed trigger on "new" (backwards allowed) pulls it back;
    // new: robot moves to prep again.
    robot(&rt, json!({"stage_id": "prep", "type": "modify_item", "settings": {"fields": {"fields.source": "{{fields.source}}x"}}})).await;
    trigger(
        &rt,
        json!({"stage_id": "new", "type": "field_changed", "allow_backwards": true,
        "settings": {"fields": ["fields.source"]}}),
    )
    .await;
    robot(
        &rt,
        json!({"stage_id": "new", "type": "change_stage", "settings": {"stage_id": "prep"}}),
    )
    .await;
    let item = deal(&rt, "prep", 1.0).await;
    rt.advance(Duration::minutes(1)).await.unwrap();
    let rs = runs(&rt, &item.id).await;
    assert!(
        rs.iter().any(|r| r.status == RunStatus::LoopStopped),
        "{rs:#?}"
    );
    assert!(rt.jobs.is_empty() && rt.events.is_empty());
}

#[tokio::test]
async fn the_same_job_twice_has_one_effect() {
    let rt = company(MONDAY_1144_MSK).await;
    robot(
        &rt,
        json!({"stage_id": "new", "type": "notify_employee",
        "settings": {"text": "new deal {{title}}", "recipient_ids": ["u-boss"]}}),
    )
    .await;
    rt.engine
        .create_item(
            T,
            body(json!({"pipeline_id": "deals", "title": "X", "responsible_id": "u-anna"})),
        )
        .await
        .unwrap();
    for d in rt.engine.pending_outbox().await.unwrap() {
        // the same outbox record delivered twice
        rt.engine.process_outbox(d.clone()).await.unwrap();
        rt.engine.process_outbox(d).await.unwrap();
    }
    let mut jobs = Vec::new();
    while let Some(j) = rt.jobs.pop_due(rt.clock.now()) {
        jobs.push(j);
    }
    assert_eq!(jobs.len(), 2, "planning twice queued the run twice");
    let first = rt.engine.run_job(jobs[0].clone()).await.unwrap();
    let second = rt.engine.run_job(jobs[1].clone()).await.unwrap();
    assert_eq!(first, crm_core::RunOutcome::Finished(RunStatus::Done));
    assert_eq!(second, crm_core::RunOutcome::AlreadyFinished);
    assert_eq!(
        rt.engine
            .list_notifications(T, "u-boss")
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_crash_after_the_claim_is_completed_once_by_the_retry() {
    let rt = company(MONDAY_1144_MSK).await;
    robot(&rt, json!({"stage_id": "new", "type": "create_task", "settings": {"title": "Call {{client.name}}"}})).await;
    let item = rt
        .engine
        .create_item(
            T,
            body(
                json!({"pipeline_id": "deals", "title": "X", "responsible_id": "u-anna",
        "client": {"name": "Romashka"}}),
            ),
        )
        .await
        .unwrap();
    for d in rt.engine.pending_outbox().await.unwrap() {
        rt.engine.process_outbox(d).await.unwrap();
    }
    let job = rt.jobs.pop_due(rt.clock.now()).unwrap();
    // A runner claims the run and dies before committing: simulate its claim.
    let until = rt.clock.now() + Duration::minutes(5);
    crm_core::testing::claim_left_by_a_dead_runner(&rt, T, &job.run_id, until).await;
    // The redelivered message while the claim is live: busy, nothing done.
    assert_eq!(
        rt.engine.run_job(job.clone()).await.unwrap(),
        crm_core::RunOutcome::Claimed { until }
    );
    assert!(rt.engine.list_tasks(T, &item.id).await.unwrap().is_empty());
    // After the claim expires the retry completes it, once.
    rt.clock.set(rt.clock.now() + Duration::minutes(6));
    assert_eq!(
        rt.engine.run_job(job.clone()).await.unwrap(),
        crm_core::RunOutcome::Finished(RunStatus::Done)
    );
    assert_eq!(
        rt.engine.run_job(job).await.unwrap(),
        crm_core::RunOutcome::AlreadyFinished
    );
    let tasks = rt.engine.list_tasks(T, &item.id).await.unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].title, "Call Romashka");
    let r = runs(&rt, &item.id)
        .await
        .into_iter()
        .find(|r| r.robot_id.is_some())
        .unwrap();
    assert_eq!(r.attempts, 2);
}

#[tokio::test]
async fn external_events_find_the_item_by_client_phone_and_are_idempotent() {
    let rt = company(MONDAY_1144_MSK).await;
    trigger(
        &rt,
        json!({"stage_id": "presentation", "type": "incoming_call", "name": "Client called"}),
    )
    .await;
    let item = deal(&rt, "new", 1.0).await;
    let ev = || {
        body(
            json!({"type": "incoming_call", "client": {"phone": "8-495-123-45-67 "},
        "idempotency_key": "call-1"}),
        )
    };
    // different formatting of the same digits is not the same number: 8… vs +7…
    let id1 = rt.engine.submit_event(T, ev()).await.unwrap();
    rt.settle().await.unwrap();
    assert_eq!(
        rt.engine.get_item(T, &item.id).await.unwrap().stage_id,
        "new"
    );
    let ok = || {
        body(
            json!({"type": "incoming_call", "client": {"phone": "+7 495 123 45 67"},
        "idempotency_key": "call-2"}),
        )
    };
    let id2 = rt.engine.submit_event(T, ok()).await.unwrap();
    let id2b = rt.engine.submit_event(T, ok()).await.unwrap();
    assert_eq!(id2, id2b);
    assert_ne!(id1, id2);
    rt.settle().await.unwrap();
    let it = rt.engine.get_item(T, &item.id).await.unwrap();
    assert_eq!(it.stage_id, "presentation");
    assert_eq!(it.visit, 2, "the duplicate event was applied once");
    let rec = rt.engine.get_event(T, &id2).await.unwrap();
    assert_eq!(
        (rec.status.as_str(), rec.item_ids.clone()),
        ("evaluated", vec![item.id.clone()])
    );
    let trig: Vec<_> = runs(&rt, &item.id)
        .await
        .into_iter()
        .filter(|r| r.trigger_id.is_some())
        .collect();
    assert_eq!(trig.len(), 1);
}

#[tokio::test]
async fn field_changed_and_webhook_and_responsible_changed_triggers() {
    let rt = company(MONDAY_1144_MSK).await;
    trigger(
        &rt,
        json!({"stage_id": "prep", "type": "field_changed", "settings": {"fields": ["amount"]}}),
    )
    .await;
    trigger(
        &rt,
        json!({"stage_id": "presentation", "type": "webhook", "settings": {"code": "erp-paid"}}),
    )
    .await;
    trigger(
        &rt,
        json!({"stage_id": "won", "type": "responsible_changed"}),
    )
    .await;
    let item = deal(&rt, "new", 1.0).await;
    rt.engine
        .patch_item(T, &item.id, body(json!({"title": "renamed"})), None)
        .await
        .unwrap();
    rt.settle().await.unwrap();
    assert_eq!(
        rt.engine.get_item(T, &item.id).await.unwrap().stage_id,
        "new"
    );
    rt.engine
        .patch_item(T, &item.id, body(json!({"amount": 20.0})), None)
        .await
        .unwrap();
    rt.settle().await.unwrap();
    assert_eq!(
        rt.engine.get_item(T, &item.id).await.unwrap().stage_id,
        "prep"
    );
    rt.engine
        .submit_event(
            T,
            body(json!({"type": "webhook", "item_id": item.id, "data": {"code": "other"}})),
        )
        .await
        .unwrap();
    rt.settle().await.unwrap();
    assert_eq!(
        rt.engine.get_item(T, &item.id).await.unwrap().stage_id,
        "prep"
    );
    rt.engine
        .submit_event(
            T,
            body(json!({"type": "webhook", "item_id": item.id, "data": {"code": "erp-paid"}})),
        )
        .await
        .unwrap();
    rt.settle().await.unwrap();
    assert_eq!(
        rt.engine.get_item(T, &item.id).await.unwrap().stage_id,
        "presentation"
    );
    rt.engine
        .patch_item(T, &item.id, body(json!({"responsible_id": "u-dan"})), None)
        .await
        .unwrap();
    rt.settle().await.unwrap();
    assert_eq!(
        rt.engine.get_item(T, &item.id).await.unwrap().stage_id,
        "won"
    );
}

#[tokio::test]
async fn every_remaining_robot_type_has_its_effect() {
    let rt = company(MONDAY_1144_MSK).await;
    let s = |v: serde_json::Value| v;
    for v in [
        s(
            json!({"stage_id": "new", "type": "add_feed_post", "settings": {"subject": "Deal {{title}}", "text": "for {{amount}}", "everyone": true, "tag": "sales"}}),
        ),
        s(
            json!({"stage_id": "new", "type": "send_direct_message", "settings": {"recipient_id": "u-boss", "text": "hi {{title}}", "message_type": "alarm"}}),
        ),
        s(
            json!({"stage_id": "new", "type": "email_employee", "settings": {"subject": "Deal {{title}}", "body": "see it"}}),
        ),
        s(
            json!({"stage_id": "new", "type": "sms_employee", "settings": {"text": "deal {{title}}", "user_id": "u-boss", "provider": "smsc"}}),
        ),
        s(
            json!({"stage_id": "new", "type": "email_client", "settings": {"subject": "Your order", "text": "Dear {{client.name}}"}}),
        ),
        s(
            json!({"stage_id": "new", "type": "sms_client", "settings": {"text": "Thanks, {{client.name}}"}}),
        ),
        s(
            json!({"stage_id": "new", "type": "notify_employee", "settings": {"text": "new deal", "department_ids": ["design"]}}),
        ),
        s(
            json!({"stage_id": "new", "type": "modify_item", "settings": {"fields": {"fields.budget": "{{amount}}", "title": "{{title}} (checked)"}}}),
        ),
        s(
            json!({"stage_id": "new", "type": "change_responsible", "after_previous": true, "settings": {"user_ids": ["u-dan", "u-dina"], "mode": "rotate"}}),
        ),
        s(
            json!({"stage_id": "new", "type": "copy_item", "settings": {"stage_id": "prep", "responsible_id": "u-boss"}}),
        ),
    ] {
        robot(&rt, v).await;
    }
    let item = deal(&rt, "new", 777.0).await;
    let rs = runs(&rt, &item.id).await;
    assert!(rs.iter().all(|r| r.status == RunStatus::Done), "{rs:#?}");
    assert_eq!(
        rt.engine.list_feed(T).await.unwrap()[0].subject,
        "Deal Website for Romashka"
    );
    assert_eq!(
        rt.engine.list_messages(T, "u-boss").await.unwrap()[0].text,
        "hi Website for Romashka"
    );
    let out = rt.engine.list_outbound(T, None).await.unwrap();
    assert_eq!(out.len(), 4);
    assert!(
        out.iter()
            .all(|m| m.status == crm_core::model::OutboundStatus::Sent)
    );
    assert_eq!(rt.delivery.delivered().len(), 4);
    assert!(
        out.iter()
            .any(|m| m.to == "buyer@romashka.test" && m.body == "Dear Romashka LLC" && m.to_client)
    );
    assert_eq!(
        rt.engine
            .list_notifications(T, "u-dan")
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        rt.engine
            .list_notifications(T, "u-dina")
            .await
            .unwrap()
            .len(),
        1
    );
    let it = rt.engine.get_item(T, &item.id).await.unwrap();
    assert_eq!(it.fields["budget"], json!(777.0));
    assert_eq!(it.title, "Website for Romashka (checked)");
    assert_eq!(it.responsible_id, "u-dan");
    let copy_id = rs
        .iter()
        .find(|r| r.robot_type.as_deref() == Some("copy_item"))
        .unwrap()
        .outputs["item_id"]
        .as_str()
        .unwrap()
        .to_string();
    let copy = rt.engine.get_item(T, &copy_id).await.unwrap();
    assert_eq!(
        (copy.stage_id.as_str(), copy.responsible_id.as_str()),
        ("prep", "u-boss")
    );
    // rotation: the next deal gets the next user
    let second = deal(&rt, "new", 1.0).await;
    assert_eq!(
        rt.engine
            .get_item(T, &second.id)
            .await
            .unwrap()
            .responsible_id,
        "u-dina"
    );

    // delete_item
    robot(&rt, json!({"stage_id": "lost", "type": "delete_item"})).await;
    move_to(&rt, &item.id, "lost").await;
    assert!(rt.engine.get_item(T, &item.id).await.is_err());
    assert!(
        rt.engine
            .timeline(T, &item.id)
            .await
            .unwrap()
            .iter()
            .any(|e| e.kind == "deleted")
    );
}

#[tokio::test]
async fn delays_relative_to_a_date_field() {
    let rt = company(MONDAY_1144_MSK).await;
    let before = robot(&rt, json!({"stage_id": "new", "type": "add_timeline_comment",
        "delay": {"mode": "before_field", "amount": 1, "unit": "hours", "field": "fields.meeting_at"},
        "settings": {"text": "meeting soon"}})).await;
    let past = robot(
        &rt,
        json!({"stage_id": "new", "type": "add_timeline_comment",
        "delay": {"mode": "at_field", "field": "created_at"}, "settings": {"text": "now"}}),
    )
    .await;
    let item = rt
        .engine
        .create_item(
            T,
            body(
                json!({"pipeline_id": "deals", "title": "X", "responsible_id": "u-anna",
        "fields": {"meeting_at": "2026-11-25T12:00:00Z"}}),
            ),
        )
        .await
        .unwrap();
    rt.settle().await.unwrap();
    let rs = runs(&rt, &item.id).await;
    assert_eq!(
        run_of(&rs, &before.id).due_at,
        Some(at("2026-11-25T11:00:00Z"))
    );
    assert_eq!(run_of(&rs, &past.id).status, RunStatus::Done);
    let empty = deal(&rt, "new", 1.0).await;
    let r = run_of(&runs(&rt, &empty.id).await, &before.id).clone();
    assert_eq!(r.status, RunStatus::Skipped);
    assert!(r.reason.unwrap().contains("fields.meeting_at"));
}

#[tokio::test]
async fn a_skipped_waiting_robot_hands_over_to_the_next_one() {
    let rt = company(MONDAY_1144_MSK).await;
    robot(
        &rt,
        json!({"stage_id": "new", "type": "add_timeline_comment", "settings": {"text": "first"}}),
    )
    .await;
    let skipped = robot(&rt, json!({"stage_id": "new", "type": "add_timeline_comment", "after_previous": true,
        "delay": {"mode": "before_field", "amount": 1, "unit": "hours", "field": "fields.meeting_at"},
        "settings": {"text": "before the meeting"}})).await;
    let last = robot(
        &rt,
        json!({"stage_id": "new", "type": "add_timeline_comment", "after_previous": true,
        "settings": {"text": "third"}}),
    )
    .await;
    let item = deal(&rt, "new", 1.0).await;
    let rs = runs(&rt, &item.id).await;
    assert_eq!(run_of(&rs, &skipped.id).status, RunStatus::Skipped);
    assert_eq!(run_of(&rs, &last.id).status, RunStatus::Done);
    let texts: Vec<String> = rt
        .engine
        .timeline(T, &item.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "comment")
        .map(|e| e.text)
        .collect();
    assert_eq!(texts, ["first", "third"]);
}

#[tokio::test]
async fn run_jobs_commits_runs_of_different_items_together_with_one_effect_each() {
    let rt = crm_core::memory::MemRuntime::with_config(
        at(MONDAY_1144_MSK),
        crm_core::EngineConfig {
            claim_runs: false,
            ..Default::default()
        },
    );
    crm_core::testing::load(&rt.engine, T).await.unwrap();
    robot(&rt, json!({"stage_id": "new", "type": "notify_supervisor", "delay": {"mode": "after", "amount": 1, "unit": "hours"},
        "settings": {"text": "{{title}} waits"}})).await;
    let mut ids = Vec::new();
    for n in 0..30 {
        let it = rt.engine.create_item(T, body(json!({"pipeline_id": "deals", "title": format!("D{n}"), "responsible_id": "u-anna"}))).await.unwrap();
        ids.push(it.id);
    }
    rt.settle().await.unwrap();
    // one deal leaves the stage before its robot is due
    rt.engine
        .patch_item(T, &ids[7], body(json!({"stage_id": "prep"})), None)
        .await
        .unwrap();
    rt.clock.set(at(MONDAY_1144_MSK) + Duration::hours(1));
    let mut jobs = Vec::new();
    while let Some(j) = rt.jobs.pop_due(rt.clock.now()) {
        jobs.push(j);
    }
    assert_eq!(
        jobs.len(),
        30,
        "the moved deal's timer is only deleted when its move is processed"
    );
    let moved = jobs.iter().position(|j| j.item_id == ids[7]).unwrap();
    jobs.push(jobs[3].clone()); // a duplicate delivery in the same batch
    let before = rt.store.count(crm_core::ports::Kind::Notification);
    let outcomes = rt.engine.run_jobs(jobs).await.unwrap();
    use crm_core::RunOutcome::*;
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == Finished(RunStatus::Done))
            .count(),
        29
    );
    assert_eq!(outcomes[moved], Finished(RunStatus::Cancelled));
    assert_eq!(outcomes[30], AlreadyFinished);
    assert_eq!(
        rt.store.count(crm_core::ports::Kind::Notification) - before,
        29
    );
    rt.settle().await.unwrap();
    assert_eq!(
        rt.engine
            .list_notifications(T, "u-boss")
            .await
            .unwrap()
            .len(),
        29
    );
}
