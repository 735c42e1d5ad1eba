//! "Run now" and "stop automation" (issue #12) on the AWS function set
//! (LocalStack): the run made due now goes through the stream (its outbox
//! record) to the robot queue and runs once; its EventBridge schedule is
//! deleted; a stop deletes the visit's schedules and nothing runs later.

use chrono::Duration;
use crm_core::model::RunStatus;
use crm_core::testing::{MONDAY_1144_MSK, at, body};
use crm_tests::aws_rig::AwsRig;
use serde_json::json;

async fn rig_with_delayed_robots(name: &str, n: usize) -> AwsRig {
    let rig = AwsRig::new(name, at(MONDAY_1144_MSK)).await;
    for put in crm_core::testing::company() {
        put.apply(&rig.engine, &rig.tenant).await.unwrap();
    }
    for i in 0..n {
        rig.engine
            .create_robot(
                &rig.tenant,
                "deals",
                body(json!({"stage_id": "new", "type": "notify_supervisor",
                    "delay": {"mode": "after", "amount": 1, "unit": "days"},
                    "settings": {"text": format!("reminder {i} for {{{{title}}}}")}})),
            )
            .await
            .unwrap();
    }
    rig
}

/// A new deal whose `n` delayed robots are planned: the stream may show the
/// item's record a little later than the write (LocalStack's stream, like
/// AWS's, is asynchronous), so settle until the schedules exist (≤ 30 s).
async fn new_deal(rig: &AwsRig, n: usize) -> String {
    let item = rig
        .engine
        .create_item(&rig.tenant, body(crm_core::testing::plain_deal("Website")))
        .await
        .unwrap();
    settle_until_schedules(rig, |s| s >= n).await;
    item.id
}

/// Two days later, no robot has notified anyone.
async fn nothing_runs_later(rig: &AwsRig) {
    rig.advance(Duration::days(2)).await;
    let notes = rig
        .engine
        .list_notifications(&rig.tenant, "u-boss")
        .await
        .unwrap();
    assert!(notes.is_empty(), "{notes:?}");
}

/// Settle until the number of schedules is as wanted (the stream shows
/// records a little after their writes; ≤ 30 s).
async fn settle_until_schedules(rig: &AwsRig, wanted: impl Fn(usize) -> bool) {
    for _ in 0..60 {
        rig.settle().await;
        if wanted(rig.schedules().await.len()) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn run_now_on_aws_runs_the_delayed_robot_once_and_deletes_its_schedule() {
    let rig = rig_with_delayed_robots("run-now", 1).await;
    let t = rig.tenant.clone();
    let id = new_deal(&rig, 1).await;
    assert_eq!(rig.schedules().await.len(), 1);
    let run = rig.engine.runs(&t, &id).await.unwrap()[0].clone();
    let now = rig
        .engine
        .run_now(&t, &id, &run.id, "ops laptop")
        .await
        .unwrap();
    assert_eq!(now.status, RunStatus::Pending);
    assert!(rig.schedules().await.is_empty(), "the schedule is deleted");
    rig.settle().await;
    let notes = rig.engine.list_notifications(&t, "u-boss").await.unwrap();
    assert_eq!(notes.len(), 1, "ran at once, through the queue");
    assert_eq!(notes[0].at, at(MONDAY_1144_MSK));
    let runs = rig.engine.runs(&t, &id).await.unwrap();
    assert_eq!(runs[0].status, RunStatus::Done);
    rig.advance(Duration::days(2)).await;
    let notes = rig.engine.list_notifications(&t, "u-boss").await.unwrap();
    assert_eq!(notes.len(), 1, "exactly once");
    rig.teardown().await;
}

#[tokio::test]
async fn stop_automation_on_aws_deletes_the_schedules_and_nothing_runs() {
    let rig = rig_with_delayed_robots("stop", 2).await;
    let t = rig.tenant.clone();
    let id = new_deal(&rig, 2).await;
    assert_eq!(rig.schedules().await.len(), 2);
    let stopped = rig
        .engine
        .stop_automation(&t, &id, "ops laptop", Some("on hold"))
        .await
        .unwrap();
    assert_eq!(stopped.runs.len(), 2);
    assert!(
        rig.schedules().await.is_empty(),
        "the schedules are deleted"
    );
    nothing_runs_later(&rig).await;
    for r in rig.engine.runs(&t, &id).await.unwrap() {
        assert_eq!(r.status, RunStatus::Cancelled);
        assert_eq!(
            r.reason.as_deref(),
            Some("automation stopped by ops laptop: on hold")
        );
    }
    rig.teardown().await;
}

/// Deleting a robot with more waiting runs than two pages on AWS (pages of
/// 3 here; 100 by default): the request cancels the first page; the
/// deletion's outbox record reaches the stage-change function through the
/// stream, which cancels a page per record, each record's successor a new
/// row (an `INSERT` the stream delivers). Every run ends cancelled, every
/// schedule is deleted, and nothing runs later.
#[tokio::test]
async fn deleting_a_robot_on_aws_cancels_its_many_runs_a_page_per_outbox_record() {
    const PAGE: usize = 3;
    const DEALS: usize = PAGE * 2 + 1;
    let mut rig = rig_with_delayed_robots("robot-deleted", 1).await;
    rig.engine = crm_core::Engine::new(
        rig.engine.ports().clone(),
        crm_core::EngineConfig {
            cancel_page: PAGE,
            ..crm_aws::wiring::aws_engine_config()
        },
    );
    let t = rig.tenant.clone();
    let robot = rig.engine.list_robots(&t, "deals").await.unwrap()[0].clone();
    let mut deals = Vec::with_capacity(DEALS);
    for i in 0..DEALS {
        let deal = crm_core::testing::plain_deal(&format!("Deal {i}"));
        deals.push(rig.engine.create_item(&t, body(deal)).await.unwrap().id);
    }
    settle_until_schedules(&rig, |s| s >= DEALS).await;
    assert_eq!(rig.schedules().await.len(), DEALS);

    rig.engine
        .delete_robot(&t, "deals", &robot.id)
        .await
        .unwrap();
    assert_eq!(
        rig.schedules().await.len(),
        DEALS - PAGE,
        "the request cancels the first page"
    );
    settle_until_schedules(&rig, |s| s == 0).await;
    assert!(rig.schedules().await.is_empty(), "every schedule deleted");
    for id in &deals {
        let runs = rig.engine.runs(&t, id).await.unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, RunStatus::Cancelled, "{runs:?}");
        assert_eq!(runs[0].reason.as_deref(), Some("cancelled: robot deleted"));
    }
    nothing_runs_later(&rig).await;
    rig.teardown().await;
}
