//! Webhooks out (issue #14): the `call_webhook` robot on the in-memory
//! runtime — the call after the commit, once per run; retries on 5xx/429
//! honouring `Retry-After`; 4xx failing at once; the destination guard at
//! save and call time; outputs for later robots; leaving the stage or
//! stopping automation while the run waits.

use crate::common;

use chrono::Duration;
use common::*;
use crm_core::error::EngineError;
use crm_core::http_call::HttpCallError;
use crm_core::model::RunStatus;
use crm_core::ports::{Clock, DocStore};
use crm_core::webhook::call::WebhookCall;
use crm_core::webhook::signature::sign;
use serde_json::{Value, json};

fn hook(url: &str, extra: Value) -> Value {
    let mut settings = json!({"url": url});
    if let (Some(s), Some(e)) = (settings.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    json!({"stage_id": "new", "type": "call_webhook", "settings": settings})
}

#[tokio::test]
async fn the_answer_becomes_outputs_that_the_next_robot_uses() {
    let rt = company(MONDAY_1144_MSK).await;
    let h = robot(
        &rt,
        hook(
            "https://hooks.example.com/deals/{{id}}",
            json!({"body": {"title": "{{title}}", "n": 1},
                   "headers": {"X-Source": "crm {{responsible.name}}"},
                   "outputs": {"order_id": "/order/id", "missing": "/nope"}}),
        ),
    )
    .await;
    let next = robot(
        &rt,
        follower("order {{robot.ID.order_id}}".replace("ID", &h.id).as_str()),
    )
    .await;
    rt.http.respond(201, &[], r#"{"order": {"id": "ORD-7"}}"#);
    let item = new_deal(&rt).await;

    let calls = rt.http.calls();
    assert_eq!(calls.len(), 1);
    let c = &calls[0];
    assert_eq!(c.method, "POST");
    assert_eq!(
        c.url,
        format!("https://hooks.example.com/deals/{}", item.id)
    );
    assert_eq!(
        c.header("Idempotency-Key"),
        Some(run_id(&item, &h).as_str())
    );
    assert_eq!(c.header("X-Source"), Some("crm Anna Sales"));
    assert_eq!(c.header("Content-Type"), Some("application/json"));
    let sent: Value = serde_json::from_str(c.body.as_deref().unwrap()).unwrap();
    assert_eq!(sent, json!({"title": "Website", "n": 1}));

    let all = runs(&rt, &item.id).await;
    let r = run_of(&all, &h.id);
    assert_eq!(r.status, RunStatus::Done, "{r:?}");
    assert_eq!(r.outputs["order_id"], json!("ORD-7"));
    assert_eq!(r.outputs["status_code"], json!(201));
    assert_eq!(r.outputs["missing"], Value::Null);
    let reason = r.reason.as_deref().unwrap();
    assert!(
        reason.contains("201 in 5 ms")
            && reason.contains("attempt 1")
            && reason.contains("missing"),
        "{reason}"
    );
    assert_eq!(run_of(&all, &next.id).status, RunStatus::Done);
    assert_eq!(comments(&rt, &item.id).await, ["order ORD-7"]);
    // nothing is left of the call
    let key = WebhookCall::key(T, &run_id(&item, &h));
    assert!(rt.store.get(&key).await.unwrap().is_none());
}

#[tokio::test]
async fn an_output_not_declared_cannot_be_used_and_declared_ones_can() {
    let rt = company(MONDAY_1144_MSK).await;
    let h = robot(
        &rt,
        hook(
            "https://hooks.example.com/x",
            json!({"outputs": {"order_id": "/id"}}),
        ),
    )
    .await;
    let bad = rt
        .engine
        .create_robot(
            T,
            "deals",
            body(follower(&format!("{{{{robot.{}.other}}}}", h.id))),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&bad, EngineError::Unprocessable { details } if details[0].field == "settings.text"),
        "{bad}"
    );
    for ok in ["status_code", "order_id"] {
        rt.engine
            .create_robot(
                T,
                "deals",
                body(follower(&format!("{{{{robot.{}.{ok}}}}}", h.id))),
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_503_is_retried_when_retry_after_says_and_the_follower_waits_until_then() {
    let rt = company(MONDAY_1144_MSK).await;
    let h = robot(&rt, hook("https://hooks.example.com/x", json!({}))).await;
    let next = robot(&rt, follower("after the hook")).await;
    rt.http.respond(503, &[("Retry-After", "120")], "busy");
    rt.http.respond(200, &[], r#"{"ok": true}"#);
    let item = new_deal(&rt).await;

    assert_eq!(rt.http.calls().len(), 1);
    let all = runs(&rt, &item.id).await;
    let r = run_of(&all, &h.id);
    assert_eq!(r.status, RunStatus::Waiting, "{r:?}");
    assert!(r.finished_at.is_none());
    let reason = r.reason.clone().unwrap();
    assert!(
        reason.contains("attempt 1 got 503") && reason.contains("attempt 2"),
        "{reason}"
    );
    let f = run_of(&all, &next.id);
    assert_eq!(
        (f.status, f.due_at),
        (RunStatus::Pending, None),
        "the follower waits"
    );
    // run-now refuses a waiting run
    let err = rt
        .engine
        .run_now(T, &item.id, &run_id(&item, &h), "anna")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::Conflict(m) if m.contains("waiting")),
        "{err}"
    );

    rt.advance(Duration::seconds(119)).await.unwrap();
    assert_eq!(rt.http.calls().len(), 1, "not before Retry-After");
    assert!(comments(&rt, &item.id).await.is_empty());
    rt.advance(Duration::seconds(1)).await.unwrap();
    let calls = rt.http.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[0].header("Idempotency-Key"),
        calls[1].header("Idempotency-Key"),
        "one key for every attempt of a run"
    );
    let all = runs(&rt, &item.id).await;
    let r = run_of(&all, &h.id);
    assert_eq!(r.status, RunStatus::Done);
    assert!(
        r.reason
            .as_deref()
            .unwrap()
            .contains("200 in 5 ms (attempt 2)"),
        "{r:?}"
    );
    assert_eq!(comments(&rt, &item.id).await, ["after the hook"]);
    // a day later nothing more is called
    rt.advance(Duration::days(1)).await.unwrap();
    assert_eq!(rt.http.calls().len(), 2);
}

#[tokio::test]
async fn a_404_fails_at_once_and_the_follower_runs() {
    let rt = company(MONDAY_1144_MSK).await;
    let h = robot(&rt, hook("https://hooks.example.com/x", json!({}))).await;
    let next = robot(&rt, follower("after")).await;
    rt.http.respond(404, &[], "no");
    let item = new_deal(&rt).await;
    rt.advance(Duration::hours(3)).await.unwrap();
    assert_eq!(rt.http.calls().len(), 1, "no retry");
    let all = runs(&rt, &item.id).await;
    let r = run_of(&all, &h.id);
    assert_eq!(r.status, RunStatus::Failed);
    assert!(r.reason.as_deref().unwrap().contains("404"), "{r:?}");
    assert_eq!(r.outputs["status_code"], json!(404));
    assert_eq!(run_of(&all, &next.id).status, RunStatus::Done);
}

#[tokio::test]
async fn timeouts_are_retried_with_backoff_then_the_run_fails_naming_the_last_error() {
    let rt = company(MONDAY_1144_MSK).await;
    let h = robot(
        &rt,
        hook("https://hooks.example.com/x", json!({"timeout_seconds": 3})),
    )
    .await;
    for _ in 0..6 {
        rt.http.fail(HttpCallError::Timeout(3));
    }
    let item = new_deal(&rt).await;
    let start = rt.clock.now();
    rt.advance(Duration::seconds(29)).await.unwrap();
    assert_eq!(rt.http.calls().len(), 1);
    rt.advance(Duration::seconds(1)).await.unwrap();
    assert_eq!(rt.http.calls().len(), 2, "30 s after the first");
    rt.advance(Duration::hours(3)).await.unwrap();
    assert_eq!(rt.http.calls().len(), 6, "five retries");
    let r = run_of(&runs(&rt, &item.id).await, &h.id).clone();
    assert_eq!(r.status, RunStatus::Failed);
    let reason = r.reason.unwrap();
    assert!(
        reason.contains("timed out after 3 s") && reason.contains("no retries left"),
        "{reason}"
    );
    assert_eq!(
        (r.finished_at.unwrap() - start).num_seconds(),
        30 + 120 + 600 + 1800 + 7200
    );
}

#[tokio::test]
async fn a_repeated_outbox_record_or_job_calls_once() {
    let rt = company(MONDAY_1144_MSK).await;
    let h = robot(&rt, hook("https://hooks.example.com/x", json!({}))).await;
    let item = rt
        .engine
        .create_item(T, body(crm_core::testing::plain_deal("Website")))
        .await
        .unwrap();
    // plan the visit, run the robot: the call is in the outbox, not made yet
    for d in rt.engine.pending_outbox().await.unwrap() {
        rt.engine.process_outbox(d).await.unwrap();
    }
    while let Some(j) = rt.jobs.pop_due(rt.clock.now()) {
        rt.engine.run_job(j).await.unwrap();
    }
    let rid = run_id(&item, &h);
    assert_eq!(
        run_of(&runs(&rt, &item.id).await, &h.id).status,
        RunStatus::Waiting
    );
    assert!(
        rt.http.calls().is_empty(),
        "nothing is called inside the commit"
    );
    let pending = rt.engine.pending_outbox().await.unwrap();
    assert_eq!(pending.len(), 1);
    let record = pending[0].clone();
    // the stream delivers it twice, the sweeper once more
    rt.engine.process_outbox(record.clone()).await.unwrap();
    rt.engine.process_outbox(record.clone()).await.unwrap();
    rt.engine.process_outbox(record).await.unwrap();
    rt.engine.webhook_attempt(T, &rid).await.unwrap();
    rt.settle().await.unwrap();
    assert_eq!(rt.http.calls().len(), 1);
    assert_eq!(
        run_of(&runs(&rt, &item.id).await, &h.id).status,
        RunStatus::Done
    );
}

#[tokio::test]
async fn requests_are_signed_with_the_tenants_secret() {
    let rt = company(MONDAY_1144_MSK).await;
    assert!(!rt.engine.webhook_secret_status(T).await.unwrap().set);
    rt.engine
        .rotate_webhook_secret(T, "whsec_test".into())
        .await
        .unwrap();
    let status = rt.engine.webhook_secret_status(T).await.unwrap();
    assert!(status.set && status.rotated_at == Some(rt.clock.now()));
    robot(
        &rt,
        hook(
            "https://hooks.example.com/x",
            json!({"body": {"a": "{{title}}"}}),
        ),
    )
    .await;
    new_deal(&rt).await;
    let c = &rt.http.calls()[0];
    let ts: i64 = c.header("X-Signature-Timestamp").unwrap().parse().unwrap();
    assert_eq!(ts, rt.clock.now().timestamp());
    assert_eq!(
        c.header("X-Signature"),
        Some(sign("whsec_test", ts, c.body.as_deref().unwrap()).as_str())
    );
    // another tenant has no secret
    assert!(!rt.engine.webhook_secret_status("other").await.unwrap().set);
}

#[tokio::test]
async fn private_destinations_are_refused_at_save_time() {
    let rt = company(MONDAY_1144_MSK).await;
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:8080/",
        "http://10.1.2.3/",
        "http://localhost/",
        "http://db.internal/",
        "ftp://example.com/",
        "https://user:pw@example.com/",
        "https://{{fields.source}}/x",
    ] {
        let err = rt
            .engine
            .create_robot(T, "deals", body(hook(url, json!({}))))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, EngineError::Unprocessable { details } if details.iter().any(|d| d.field == "settings.url")),
            "{url}: {err}"
        );
    }
}

#[tokio::test]
async fn a_name_resolving_to_a_private_address_is_refused_at_call_time_unless_allow_listed() {
    let rt = company(MONDAY_1144_MSK).await;
    rt.http
        .resolve("rebind.example.com", &["93.184.216.34", "127.0.0.1"]);
    rt.http.resolve("allowed.example.com", &["127.0.0.1"]);
    crm_core::webhook::guard::install_allow_list(
        crm_core::webhook::guard::AllowList::parse("allowed.example.com:443").0,
    );
    let bad = robot(&rt, hook("https://rebind.example.com/x", json!({}))).await;
    let ok = robot(&rt, hook("https://allowed.example.com/x", json!({}))).await;
    let item = new_deal(&rt).await;
    let calls = rt.http.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].url, "https://allowed.example.com/x");
    let all = runs(&rt, &item.id).await;
    let r = run_of(&all, &bad.id);
    assert_eq!(r.status, RunStatus::Failed);
    let reason = r.reason.as_deref().unwrap();
    assert!(
        reason.contains("refused") && reason.contains("127.0.0.1"),
        "{reason}"
    );
    assert_eq!(run_of(&all, &ok.id).status, RunStatus::Done);
}

#[tokio::test]
async fn leaving_the_stage_while_waiting_cancels_the_call() {
    let rt = company(MONDAY_1144_MSK).await;
    let h = robot(&rt, hook("https://hooks.example.com/x", json!({}))).await;
    rt.http.respond(500, &[], "oops");
    let item = new_deal(&rt).await;
    assert_eq!(
        run_of(&runs(&rt, &item.id).await, &h.id).status,
        RunStatus::Waiting
    );
    move_to(&rt, &item.id, "prep").await;
    let r = run_of(&runs(&rt, &item.id).await, &h.id).clone();
    assert_eq!(r.status, RunStatus::Cancelled);
    assert!(r.reason.as_deref().unwrap().contains("left stage"), "{r:?}");
    rt.advance(Duration::hours(4)).await.unwrap();
    assert_eq!(rt.http.calls().len(), 1, "no retry after the visit ended");
    let key = WebhookCall::key(T, &run_id(&item, &h));
    assert!(rt.store.get(&key).await.unwrap().is_none());
}

#[tokio::test]
async fn stopping_automation_cancels_a_waiting_call() {
    let rt = company(MONDAY_1144_MSK).await;
    let h = robot(&rt, hook("https://hooks.example.com/x", json!({}))).await;
    rt.http.respond(429, &[], "slow down");
    let item = new_deal(&rt).await;
    let summary = rt
        .engine
        .run_summary(T, std::slice::from_ref(&item.id))
        .await
        .unwrap();
    assert_eq!(
        summary[&item.id].pending, 1,
        "a waiting run shows as pending"
    );
    let stopped = rt
        .engine
        .stop_automation(T, &item.id, "anna", None)
        .await
        .unwrap();
    assert_eq!(stopped.runs.len(), 1);
    rt.advance(Duration::hours(4)).await.unwrap();
    assert_eq!(rt.http.calls().len(), 1);
    assert_eq!(
        run_of(&runs(&rt, &item.id).await, &h.id).status,
        RunStatus::Cancelled
    );
}
