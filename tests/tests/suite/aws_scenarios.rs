//! Scenarios of the AWS function set on LocalStack: the real handlers
//! in-process, every DynamoDB/SQS/Scheduler call to the emulator, schedules
//! fired by the test at the times of a manual clock.

use chrono::Duration;
use crm_core::error::EngineError;
use crm_core::model::RunStatus;
use crm_core::ports::{Clock, Cond, Doc, DocKey, DocStore, Kind, Write};
use crm_core::testing::{MONDAY_1144_MSK, at, body};
use crm_tests::aws_rig::AwsRig;
use serde_json::{Value, json};

const START: &str = MONDAY_1144_MSK;

/// The standard company of `crm_core::testing` — through the api Lambda
/// with API Gateway events, as a client would.
async fn company(rig: &AwsRig) -> axum::Router {
    let key = format!("key-{}", rig.tenant);
    let keys = crm_http::ApiKeys::single(rig.tenant.clone(), key.clone());
    let router = crm_fn_api::app(std::sync::Arc::new(rig.engine.clone()), keys);
    for put in crm_core::testing::company() {
        let path = put.path();
        let (status, resp) = api(&router, &key, "PUT", &path, Some(put.body)).await;
        assert_eq!(status, 200, "{path}: {resp}");
    }
    router
}

async fn api(
    router: &axum::Router,
    key: &str,
    method: &str,
    path: &str,
    b: Option<Value>,
) -> (u16, Value) {
    use http_body_util::BodyExt;
    let mut event = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"content-type": "application/json", "authorization": format!("Bearer {key}"),
            "host": "abc123.execute-api.us-east-1.amazonaws.com"},
        "requestContext": {"accountId": "123456789012", "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com", "domainPrefix": "abc123",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "test"},
            "requestId": "req", "routeKey": "$default", "stage": "$default",
            "time": "23/Nov/2026:08:44:00 +0000", "timeEpoch": 1_763_887_440_000_i64},
        "isBase64Encoded": false
    });
    if let Some(b) = b {
        event["body"] = json!(b.to_string());
    }
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let response = crm_fn_api::handle(router, request).await;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        },
    )
}

/// A rig named `name` with the company, `robot` on `deals` and a plain deal
/// whose creation was pumped from the stream (the robot's job is queued).
async fn robot_and_deal(name: &str, robot: Value) -> (AwsRig, crm_core::model::Item) {
    let rig = AwsRig::new(name, at(START)).await;
    let t = rig.tenant.clone();
    let _api = company(&rig).await;
    rig.engine
        .create_robot(&t, "deals", body(robot))
        .await
        .unwrap();
    let item = rig
        .engine
        .create_item(&t, body(crm_core::testing::plain_deal("Website")))
        .await
        .unwrap();
    while rig.pump_stream().await == 0 {}
    (rig, item)
}

async fn new_deal(rig: &AwsRig, stage: &str) -> String {
    let item = rig
        .engine
        .create_item(
            &rig.tenant,
            body(
                json!({"pipeline_id": "deals", "stage_id": stage, "title": "Website",
            "amount": 15000, "currency": "RUB", "responsible_id": "u-anna"}),
            ),
        )
        .await
        .unwrap();
    rig.settle().await;
    item.id
}

#[tokio::test]
async fn supervisor_notified_after_a_day_or_cancelled_with_its_schedule_gone() {
    let rig = AwsRig::new("notify", at(START)).await;
    let t = rig.tenant.clone();
    let _api = company(&rig).await;
    rig.engine
        .create_robot(
            &t,
            "deals",
            body(json!({"stage_id": "new", "type": "notify_supervisor",
            "delay": {"mode": "after", "amount": 1, "unit": "days"},
            "settings": {"text": "{{responsible.name}} did not move {{title}}"}})),
        )
        .await
        .unwrap();
    let stays = new_deal(&rig, "new").await;
    let moves = new_deal(&rig, "new").await;
    assert_eq!(
        rig.schedules().await.len(),
        2,
        "one schedule per delayed robot"
    );

    rig.advance(Duration::hours(3)).await;
    rig.engine
        .patch_item(&t, &moves, body(json!({"stage_id": "prep"})), None)
        .await
        .unwrap();
    rig.settle().await;
    assert_eq!(
        rig.schedules().await.len(),
        1,
        "the moved deal's schedule was deleted"
    );

    rig.advance(Duration::days(1)).await;
    let n = rig.engine.list_notifications(&t, "u-boss").await.unwrap();
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].text, "Anna Sales did not move Website");
    assert_eq!(n[0].item_id.as_deref(), Some(stays.as_str()));
    assert_eq!(n[0].at, at("2026-11-24T08:44:00Z"));
    let runs = rig.engine.runs(&t, &moves).await.unwrap();
    assert_eq!(runs[0].status, RunStatus::Cancelled);
    assert!(rig.schedules().await.is_empty());
    rig.teardown().await;
}

#[tokio::test]
async fn a_message_delivered_twice_has_one_effect() {
    let (rig, item) = robot_and_deal(
        "twice",
        json!({"stage_id": "new", "type": "create_task",
            "settings": {"title": "Call about {{title}}"}}),
    )
    .await;
    let t = rig.tenant.clone();
    // The robot-actions message, delivered twice in one batch and once more later.
    let q = rig.ports.jobs.queue();
    let got = q.receive::<Value>(10, 0).await.unwrap();
    assert_eq!(got.len(), 1);
    let body_text = got[0].body.to_string();
    let batch = json!({"Records": [
        {"messageId": "m1", "receiptHandle": "h1", "body": body_text, "eventSource": "aws:sqs", "attributes": {}, "messageAttributes": {}},
        {"messageId": "m2", "receiptHandle": "h2", "body": body_text, "eventSource": "aws:sqs", "attributes": {}, "messageAttributes": {}}
    ]});
    for _ in 0..2 {
        let b = crm_fn_robot_runner::handler(
            &rig.engine,
            lambda_runtime::LambdaEvent::new(batch.clone(), Default::default()),
        )
        .await
        .unwrap();
        assert!(b.batch_item_failures.is_empty());
    }
    q.ack(&[got[0].receipt_handle.clone()]).await.unwrap();
    rig.settle().await;
    assert_eq!(rig.engine.list_tasks(&t, &item.id).await.unwrap().len(), 1);
    let runs = rig.engine.runs(&t, &item.id).await.unwrap();
    assert_eq!(
        (runs.len(), runs[0].status, runs[0].attempts),
        (1, RunStatus::Done, 1)
    );
    rig.teardown().await;
}

#[tokio::test]
async fn a_crash_between_claim_and_effect_is_completed_once_by_the_retry() {
    let (rig, item) = robot_and_deal(
        "crash",
        json!({"stage_id": "new", "type": "add_timeline_comment",
            "settings": {"text": "hello {{title}}"}}),
    )
    .await;
    let t = rig.tenant.clone();
    // A runner claimed the run and died: its claim is in the table, the message is redelivered.
    let run_id = format!("{}:1:", item.id);
    let runs_docs = rig.ports.store.list(&t, Kind::Run, &item.id).await.unwrap();
    let d = runs_docs
        .into_iter()
        .find(|d| d.key.id.starts_with(&run_id))
        .unwrap();
    let mut run: crm_core::model::RunRecord = serde_json::from_value(d.body.clone()).unwrap();
    run.status = RunStatus::Running;
    run.claim_until = Some(rig.clock.now() + Duration::minutes(5));
    run.attempts = 1;
    rig.ports
        .store
        .transact(vec![Write::Put {
            doc: Doc {
                version: d.version + 1,
                body: serde_json::to_value(&run).unwrap(),
                ..d
            },
            cond: Cond::Version(d.version),
        }])
        .await
        .unwrap();
    rig.settle().await; // the redelivery finds a live claim: left for later
    let comments = |tl: Vec<crm_core::model::TimelineEntry>| {
        tl.into_iter().filter(|e| e.kind == "comment").count()
    };
    assert_eq!(
        comments(rig.engine.timeline(&t, &item.id).await.unwrap()),
        0
    );
    rig.clock.set(rig.clock.now() + Duration::minutes(6));
    rig.settle().await;
    assert_eq!(
        comments(rig.engine.timeline(&t, &item.id).await.unwrap()),
        1
    );
    let runs = rig.engine.runs(&t, &item.id).await.unwrap();
    assert_eq!((runs[0].status, runs[0].attempts), (RunStatus::Done, 2));
    rig.teardown().await;
}

#[tokio::test]
async fn two_concurrent_stage_changes_one_wins_and_nothing_is_lost() {
    let rig = AwsRig::new("race", at(START)).await;
    let t = rig.tenant.clone();
    let _api = company(&rig).await;
    for stage in ["prep", "presentation"] {
        rig.engine
            .create_robot(
                &t,
                "deals",
                body(json!({"stage_id": stage, "type": "add_timeline_comment",
                "settings": {"text": format!("entered {stage}")}})),
            )
            .await
            .unwrap();
    }
    let id = new_deal(&rig, "new").await;
    let v = rig.engine.get_item(&t, &id).await.unwrap().version;
    let (a, b) = tokio::join!(
        rig.engine
            .patch_item(&t, &id, body(json!({"stage_id": "prep"})), Some(v)),
        rig.engine
            .patch_item(&t, &id, body(json!({"stage_id": "presentation"})), Some(v)),
    );
    let (winner, loser) = match (a, b) {
        (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
        other => panic!("exactly one must win: {other:?}"),
    };
    assert!(matches!(loser, EngineError::Conflict(_)), "{loser:?}");
    rig.settle().await;
    let item = rig.engine.get_item(&t, &id).await.unwrap();
    assert_eq!(
        (item.stage_id.as_str(), item.visit),
        (winner.stage_id.as_str(), 2)
    );
    let tl = rig.engine.timeline(&t, &id).await.unwrap();
    let comments: Vec<_> = tl
        .iter()
        .filter(|e| e.kind == "comment")
        .map(|e| e.text.clone())
        .collect();
    assert_eq!(comments, vec![format!("entered {}", winner.stage_id)]);
    rig.teardown().await;
}

#[tokio::test]
async fn an_event_through_the_queue_moves_the_deal_once() {
    let rig = AwsRig::new("events", at(START)).await;
    let t = rig.tenant.clone();
    let router = company(&rig).await;
    rig.engine
        .create_trigger(
            &t,
            "deals",
            body(json!({"stage_id": "won", "type": "invoice_paid", "name": "Paid"})),
        )
        .await
        .unwrap();
    let id = new_deal(&rig, "new").await;
    let key = format!("key-{t}");
    for _ in 0..2 {
        let (status, resp) = api(
            &router,
            &key,
            "POST",
            "/v1/events",
            Some(json!({"type": "invoice_paid", "item_id": id, "idempotency_key": "inv-77"})),
        )
        .await;
        assert_eq!(status, 202, "{resp}");
    }
    rig.settle().await;
    let item = rig.engine.get_item(&t, &id).await.unwrap();
    assert_eq!((item.stage_id.as_str(), item.visit), ("won", 2));
    let (status, runs) = api(&router, &key, "GET", &format!("/v1/items/{id}/runs"), None).await;
    assert_eq!(status, 200);
    let trig: Vec<_> = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "trigger")
        .collect();
    assert_eq!(trig.len(), 1);
    assert_eq!(trig[0]["status"], "done");
    rig.teardown().await;
}

/// AWS requests per stage change (k immediate, d delayed robots) and per
/// robot run, counted at the SDK. Printed for the record and bounded by the
/// targets: ≤ 1 SendMessageBatch per 10 immediate robots, 1 CreateSchedule per
/// delayed robot, ≤ 4 requests per robot run beyond the action's own writes.
#[tokio::test]
async fn request_counts_per_stage_change_and_per_robot_run() {
    let rig = AwsRig::new("counts", at(START)).await;
    let t = rig.tenant.clone();
    let _api = company(&rig).await;
    let (k, d) = (12usize, 3usize);
    for i in 0..k {
        rig.engine
            .create_robot(
                &t,
                "deals",
                body(json!({"stage_id": "prep", "type": "add_timeline_comment",
            "settings": {"text": format!("now {i}")}})),
            )
            .await
            .unwrap();
    }
    for i in 0..d {
        rig.engine.create_robot(&t, "deals", body(json!({"stage_id": "prep", "type": "add_timeline_comment",
            "delay": {"mode": "after", "amount": i + 1, "unit": "hours"}, "settings": {"text": format!("later {i}")}}))).await.unwrap();
    }
    let id = new_deal(&rig, "new").await;
    let c = &rig.ports.requests;
    let before = c.snapshot();
    rig.engine
        .patch_item(&t, &id, body(json!({"stage_id": "prep"})), None)
        .await
        .unwrap();
    let write = c.snapshot() - before;
    let before = c.snapshot();
    let calls_before = c.calls();
    while rig.pump_stream().await == 0 {}
    let stage_change = c.snapshot() - before;
    let mut calls = c.calls();
    for (op, n) in calls_before {
        *calls.entry(op).or_default() -= n;
    }
    calls.retain(|_, n| *n > 0);
    println!(
        "stage change with {k} immediate + {d} delayed robots: API write {write}; stage-change function {stage_change}"
    );
    println!("stage-change operations: {calls:?}");
    let batches = calls.get("sqs:SendMessageBatch").copied().unwrap_or(0);
    let schedules = calls.get("scheduler:CreateSchedule").copied().unwrap_or(0);
    assert!(
        batches as usize <= k.div_ceil(10),
        "{batches} SendMessageBatch"
    );
    assert_eq!(schedules as usize, d);

    // one robot run (immediate), counted alone
    let q = rig.ports.jobs.queue();
    let got = q.receive::<Value>(1, 0).await.unwrap();
    let before = c.snapshot();
    let job: crm_core::ports::Job = serde_json::from_value(got[0].body.clone()).unwrap();
    rig.engine.run_job(job).await.unwrap();
    let run = c.snapshot() - before;
    println!(
        "one robot run (add_timeline_comment): {run} (the last is the commit with the action's writes)"
    );
    assert!(run.total() <= 5, "{run}");
    q.ack(&[got[0].receipt_handle.clone()]).await.unwrap();

    // one delayed robot run, from its schedule: EventBridge Scheduler fires
    // in the minute before the due time (its SendMessage is AWS's, not
    // ours), the runner puts the early job back on the queue for the rest
    // of the time, then runs it on time. Counted at the function's side.
    rig.settle().await;
    let s = rig
        .ports
        .scheduler
        .list_all()
        .await
        .unwrap()
        .into_iter()
        .min_by_key(|s| s.job.due_at)
        .unwrap();
    rig.clock.set(s.fire_at + Duration::seconds(30));
    rig.fire(&s).await;
    let mut deliveries = Vec::new();
    for at_time in [None, Some(s.job.due_at)] {
        if let Some(t) = at_time {
            rig.clock.set(t);
        }
        let m = q
            .receive::<crm_core::ports::Job>(1, 0)
            .await
            .unwrap()
            .pop()
            .unwrap();
        let before = c.snapshot();
        let report = crm_fn_robot_runner::run(&rig.engine, m.body).await.unwrap();
        deliveries.push((report.outcome, c.snapshot() - before));
        q.ack(&[m.receipt_handle]).await.unwrap();
    }
    println!(
        "one delayed robot run: 1 CreateSchedule (stage change) + early delivery {} ({}) + on-time delivery {} ({})",
        deliveries[0].1, deliveries[0].0, deliveries[1].1, deliveries[1].0
    );
    assert_eq!(
        (deliveries[0].0, deliveries[1].0),
        ("rescheduled", "finished")
    );
    assert!(deliveries[0].1.total() <= 2, "{}", deliveries[0].1);
    assert!(deliveries[1].1.total() <= 5, "{}", deliveries[1].1);
    rig.teardown().await;
}

#[tokio::test]
async fn an_ended_visits_late_schedule_is_cancelled_not_run() {
    let rig = AwsRig::new("late", at(START)).await;
    let t = rig.tenant.clone();
    let _api = company(&rig).await;
    rig.engine
        .create_robot(
            &t,
            "deals",
            body(json!({"stage_id": "new", "type": "add_timeline_comment",
        "delay": {"mode": "after", "amount": 2, "unit": "hours"}, "settings": {"text": "late"}})),
        )
        .await
        .unwrap();
    let id = new_deal(&rig, "new").await;
    let sched = rig.ports.scheduler.list_all().await.unwrap();
    assert_eq!(sched.len(), 1);
    let job = sched[0].job.clone();
    rig.engine
        .patch_item(&t, &id, body(json!({"stage_id": "prep"})), None)
        .await
        .unwrap();
    // The scheduler fires before the stage-change function saw the move.
    rig.clock.set(rig.clock.now() + Duration::hours(3));
    rig.fire(&sched[0]).await;
    assert_eq!(rig.pump_jobs().await, 1);
    let run = rig.engine.runs(&t, &id).await.unwrap();
    let run = run.iter().find(|r| r.id == job.run_id).unwrap();
    assert_eq!(run.status, RunStatus::Cancelled, "{run:?}");
    rig.settle().await;
    assert!(
        !rig.engine
            .timeline(&t, &id)
            .await
            .unwrap()
            .iter()
            .any(|e| e.kind == "comment")
    );
    let key = DocKey::new(&t, Kind::Run, &job.run_id);
    assert!(rig.ports.store.get(&key).await.unwrap().is_some());
    rig.teardown().await;
}
