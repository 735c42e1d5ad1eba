//! Visit jobs on LocalStack (issue #11): a stage change's immediate robots
//! travel as ONE SQS message, run by the real robot-runner handler in robot
//! order and committed together; a repeated message adds nothing.

use crm_core::model::RunStatus;
use crm_core::ports::{Clock, Job, JobQueue, Scheduler};
use crm_core::testing::{MONDAY_1144_MSK, at, body};
use crm_tests::aws_rig::AwsRig;
use serde_json::json;

#[tokio::test]
async fn one_message_carries_a_visits_immediate_runs() {
    let rig = AwsRig::new("visit-job", at(MONDAY_1144_MSK)).await;
    let t = rig.tenant.clone();
    crm_core::testing::load(&rig.engine, &t).await.unwrap();
    let mut robots = Vec::new();
    for n in 1..=5 {
        let r = rig
            .engine
            .create_robot(
                &t,
                "deals",
                body(json!({"stage_id": "new", "type": "add_timeline_comment",
                    "settings": {"text": format!("c{n}")}})),
            )
            .await
            .unwrap();
        robots.push(r.id);
    }
    let item = rig
        .engine
        .create_item(
            &t,
            body(
                json!({"pipeline_id": "deals", "stage_id": "new", "title": "Website",
                "responsible_id": "u-anna"}),
            ),
        )
        .await
        .unwrap();
    while rig.pump_stream().await == 0 {}
    // The queue holds one message: the visit's five runs in robot order.
    let q = rig.ports.jobs.queue();
    let got = q.receive::<Job>(10, 0).await.unwrap();
    assert_eq!(got.len(), 1, "one message for the visit");
    let job = got[0].body.clone();
    let ids: Vec<String> = robots
        .iter()
        .map(|r| crm_core::planning::run_id(&item.id, item.visit, r))
        .collect();
    assert_eq!(job.run_id, ids[0]);
    assert_eq!(job.then, ids[1..].to_vec());
    q.release(&got[0].receipt_handle).await.unwrap();

    assert_eq!(rig.pump_jobs().await, 1, "one message, all five runs");
    let texts = |rig: &AwsRig| {
        let t = t.clone();
        let id = item.id.clone();
        let engine = rig.engine.clone();
        async move {
            engine
                .timeline(&t, &id)
                .await
                .unwrap()
                .into_iter()
                .filter(|e| e.kind == "comment")
                .map(|e| e.text)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(texts(&rig).await, ["c1", "c2", "c3", "c4", "c5"]);
    let runs = rig.engine.runs(&t, &item.id).await.unwrap();
    assert_eq!(runs.len(), 5);
    assert!(runs.iter().all(|r| r.status == RunStatus::Done), "{runs:?}");

    // SQS delivers at least once: the same message again adds nothing.
    rig.ports.jobs.send(vec![job.clone()]).await.unwrap();
    assert_eq!(rig.pump_jobs().await, 1);
    assert_eq!(texts(&rig).await.len(), 5);

    // A visit job put back for later (a copy deferred behind a claim that
    // arrived early) keeps its runs in the schedule's input.
    let later = Job {
        due_at: rig.clock.now() + chrono::Duration::hours(2),
        ..job
    };
    rig.ports.scheduler.schedule(later.clone()).await.unwrap();
    let scheduled = rig.ports.scheduler.list_all().await.unwrap();
    assert_eq!(scheduled.len(), 1, "{scheduled:?}");
    assert_eq!(scheduled[0].job, later);
    rig.teardown().await;
}
