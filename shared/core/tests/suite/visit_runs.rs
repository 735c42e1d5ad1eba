//! Engine steps read the runs of one visit, never an item's whole run log
//! (issue #11: no engine step reads an unbounded list). Ending a visit,
//! stopping automation, the board's run badges and a robot's use of
//! earlier outputs list the run ids of the visit (`{item}:{visit}:`), so
//! an item that has changed stage a thousand times costs them no more
//! than a new one.

use crate::common;

use common::run_reads::watched;
use common::*;
use crm_core::Engine;
use crm_core::memory::MemRuntime;
use crm_core::model::RunStatus;
use crm_core::ports::Clock;
use serde_json::json;

/// Move the deal to `prep` and process the stage change with `engine`.
async fn to_prep_through(rt: &MemRuntime, engine: &Engine, id: &str) {
    rt.engine
        .patch_item(T, id, body(json!({"stage_id": "prep"})), None)
        .await
        .unwrap();
    for d in engine.pending_outbox().await.unwrap() {
        engine.process_outbox(d).await.unwrap();
    }
}

/// A deal that has been in `new` `visits` times (and in `prep` between),
/// in `new` now; `new` has a comment robot, an auto-completing activity and
/// a robot due in a day.
async fn well_travelled_deal(rt: &MemRuntime, visits: usize) -> String {
    robot(
        rt,
        json!({"stage_id": "new", "type": "add_timeline_comment",
            "settings": {"text": "hello"}}),
    )
    .await;
    robot(
        rt,
        json!({"stage_id": "new", "type": "plan_activity",
            "settings": {"description": "Call the client", "activity_type": "call"}}),
    )
    .await;
    robot(
        rt,
        json!({"stage_id": "new", "type": "add_timeline_comment",
            "delay": {"mode": "after", "amount": 1, "unit": "days"},
            "settings": {"text": "still here"}}),
    )
    .await;
    let id = new_deal(rt).await.id;
    for _ in 1..visits {
        move_to(rt, &id, "prep").await;
        move_to(rt, &id, "new").await;
    }
    id
}

#[tokio::test]
async fn ending_a_visit_reads_only_the_runs_of_that_visit() {
    let rt = company(MONDAY_1144_MSK).await;
    let id = well_travelled_deal(&rt, 6).await;
    assert_eq!(runs(&rt, &id).await.len(), 18, "6 visits of 3 robots");
    let (engine, store) = watched(&rt);
    to_prep_through(&rt, &engine, &id).await;
    assert_eq!(store.listings(), 0, "no whole run log");
    // What ending the visit does, it did: the waiting robot is cancelled,
    // the visit's activity completed.
    let last = runs(&rt, &id).await;
    let waiting = last
        .iter()
        .filter(|r| r.visit == 11 && r.due_at > Some(at(MONDAY_1144_MSK)))
        .collect::<Vec<_>>();
    assert_eq!(waiting.len(), 1, "{last:#?}");
    assert_eq!(waiting[0].status, RunStatus::Cancelled);
    let acts = rt.engine.list_activities(T, &id).await.unwrap();
    assert_eq!(acts.len(), 6);
    assert!(acts.iter().all(|a| a.completed), "{acts:#?}");
}

#[tokio::test]
async fn stopping_automation_and_the_run_badges_read_only_the_current_visit() {
    let rt = company(MONDAY_1144_MSK).await;
    let id = well_travelled_deal(&rt, 4).await;
    let (engine, store) = watched(&rt);
    let summary = engine
        .run_summary(T, std::slice::from_ref(&id))
        .await
        .unwrap();
    assert_eq!(summary[&id].pending, 1, "the robot due in a day");
    let stopped = engine
        .stop_automation(T, &id, "u-anna", None)
        .await
        .unwrap();
    assert_eq!(stopped.runs.len(), 1, "{:#?}", stopped.runs);
    assert_eq!(stopped.runs[0].visit, 7);
    assert_eq!(store.listings(), 0, "no whole run log");
    let summary = engine
        .run_summary(T, std::slice::from_ref(&id))
        .await
        .unwrap();
    assert_eq!(summary[&id].pending, 0);
}

#[tokio::test]
async fn a_robot_reads_the_outputs_of_its_own_visit_only() {
    let rt = company(MONDAY_1144_MSK).await;
    let first = robot(
        &rt,
        json!({"stage_id": "prep", "type": "plan_activity",
            "settings": {"description": "Call", "activity_type": "call"}}),
    )
    .await;
    robot(
        &rt,
        json!({"stage_id": "prep", "type": "add_timeline_comment",
            "settings": {"text": format!("activity {{{{robot.{}.activity_id}}}}", first.id)}}),
    )
    .await;
    let id = new_deal(&rt).await.id;
    for _ in 0..3 {
        move_to(&rt, &id, "prep").await;
        move_to(&rt, &id, "new").await;
    }
    let (engine, store) = watched(&rt);
    to_prep_through(&rt, &engine, &id).await;
    while let Some(j) = rt.jobs.pop_due(rt.clock.now()) {
        engine.run_visit_job(j).await.unwrap();
    }
    assert_eq!(store.listings(), 0, "no whole run log");
    // Each visit's comment names the activity of that visit.
    let mut acts = rt.engine.list_activities(T, &id).await.unwrap();
    acts.sort_by_key(|a| a.visit);
    let want: Vec<String> = acts.iter().map(|a| format!("activity {}", a.id)).collect();
    assert_eq!(want.len(), 4);
    assert_eq!(comments(&rt, &id).await, want);
}
