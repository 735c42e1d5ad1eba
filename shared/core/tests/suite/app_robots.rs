//! Custom robot types of applications (issue #14) on the in-memory runtime:
//! registering a type, robots of type `app.<code>` checked against its
//! settings schema, a run that POSTs a signed request with an event token to
//! the handler and waits for `answer_robot_event`; the answer's values as
//! outputs of later robots; exactly one answer; the timeout; leaving the
//! stage.

use crate::common;

use chrono::Duration;
use common::*;
use crm_core::apps::event::{AppWait, RobotEventAnswer, token_hash};
use crm_core::apps::robot_type::RobotTypeBody;
use crm_core::error::EngineError;
use crm_core::memory::MemRuntime;
use crm_core::model::RunStatus;
use crm_core::ports::{Clock, DocStore};
use crm_core::webhook::signature::sign;
use serde_json::{Value, json};

async fn register(rt: &MemRuntime, timeout: u64) {
    let b: RobotTypeBody = body(json!({
        "code": "crm_sync", "name": "Sync to ERP",
        "description": "Creates the order in the ERP",
        "handler_url": "https://erp.example.com/robot",
        "settings_schema": {"type": "object", "properties": {
            "note": {"type": "string", "title": "Note"},
            "priority": {"type": "integer"},
            "urgent": {"type": "boolean"}
        }, "required": ["note"]},
        "return_schema": {"properties": {
            "order_id": {"type": "string"}, "total": {"type": "number"}
        }, "required": ["order_id"]},
        "timeout_seconds": timeout
    }));
    rt.engine.create_robot_type(T, b).await.unwrap();
}

fn app_robot(settings: Value) -> Value {
    json!({"stage_id": "new", "type": "app.crm_sync", "settings": settings})
}

/// The last request made, and the token it carries.
fn last_call(rt: &MemRuntime) -> (crm_core::http_call::HttpRequest, Value, String) {
    let c = rt.http.calls().last().cloned().expect("a call");
    let sent: Value = serde_json::from_str(c.body.as_deref().unwrap()).unwrap();
    let token = sent["event_token"].as_str().unwrap().to_string();
    (c, sent, token)
}

fn answer(v: Value) -> RobotEventAnswer {
    serde_json::from_value(v).unwrap()
}

fn fields_of(e: &EngineError) -> Vec<String> {
    match e {
        EngineError::Unprocessable { details } => details.iter().map(|d| d.field.clone()).collect(),
        e => panic!("not a 422: {e}"),
    }
}

#[tokio::test]
async fn settings_are_checked_against_the_registered_schema() {
    let rt = company(MONDAY_1144_MSK).await;
    let unknown = rt
        .engine
        .create_robot(T, "deals", body(app_robot(json!({"note": "x"}))))
        .await
        .unwrap_err();
    assert_eq!(fields_of(&unknown), ["type"]);
    register(&rt, 3600).await;
    let bad = rt
        .engine
        .create_robot(
            T,
            "deals",
            body(app_robot(
                json!({"priority": "high", "other": 1, "urgent": true}),
            )),
        )
        .await
        .unwrap_err();
    let mut f = fields_of(&bad);
    f.sort();
    assert_eq!(f, ["settings.note", "settings.other", "settings.priority"]);
    let placeholder = rt
        .engine
        .create_robot(T, "deals", body(app_robot(json!({"note": "{{nope}}"}))))
        .await
        .unwrap_err();
    assert_eq!(fields_of(&placeholder), ["settings.note"]);
    let r = robot(
        &rt,
        app_robot(json!({"note": "Deal {{title}}", "priority": 2})),
    )
    .await;
    assert_eq!(r.name, "Sync to ERP");
    assert_eq!(r.action.api_type(), "app.crm_sync");
    // its outputs can be used by the robots after it, others cannot
    robot(
        &rt,
        follower(&format!("order {{{{robot.{}.order_id}}}}", r.id)),
    )
    .await;
    let bad = rt
        .engine
        .create_robot(
            T,
            "deals",
            body(follower(&format!("{{{{robot.{}.nope}}}}", r.id))),
        )
        .await
        .unwrap_err();
    assert_eq!(fields_of(&bad), ["settings.text"]);
    // a second type with the same code is refused
    let again: RobotTypeBody =
        body(json!({"code": "crm_sync", "name": "x", "handler_url": "https://a.example.com/"}));
    assert!(matches!(
        rt.engine.create_robot_type(T, again).await.unwrap_err(),
        EngineError::Conflict(_)
    ));
    // another tenant does not see it
    assert!(matches!(
        rt.engine
            .get_robot_type("other", "crm_sync")
            .await
            .unwrap_err(),
        EngineError::NotFound { .. }
    ));
}

#[tokio::test]
async fn a_run_calls_the_handler_signed_and_the_answer_becomes_outputs_once() {
    let rt = company(MONDAY_1144_MSK).await;
    rt.engine
        .rotate_webhook_secret(T, "whsec_test".into())
        .await
        .unwrap();
    register(&rt, 3600).await;
    let a = robot(
        &rt,
        app_robot(json!({"note": "Deal {{title}}", "priority": 2})),
    )
    .await;
    let next = robot(
        &rt,
        follower(&format!("order {{{{robot.{}.order_id}}}}", a.id)),
    )
    .await;
    let item = new_deal(&rt).await;

    let (c, sent, token) = last_call(&rt);
    assert_eq!(rt.http.calls().len(), 1);
    assert_eq!(
        (c.method.as_str(), c.url.as_str()),
        ("POST", "https://erp.example.com/robot")
    );
    let rid = run_id(&item, &a);
    assert_eq!(c.header("Idempotency-Key"), Some(rid.as_str()));
    let ts: i64 = c.header("X-Signature-Timestamp").unwrap().parse().unwrap();
    assert_eq!(
        c.header("X-Signature"),
        Some(sign("whsec_test", ts, c.body.as_deref().unwrap()).as_str())
    );
    assert_eq!(sent["code"], "crm_sync");
    assert_eq!(sent["run_id"], json!(rid));
    assert_eq!(
        sent["settings"],
        json!({"note": "Deal Website", "priority": 2})
    );
    assert_eq!(sent["item"]["id"], json!(item.id));
    assert_eq!(sent["item"]["title"], "Website");
    assert!(sent.get("tenant").is_none(), "the tenant is not sent");
    assert!(token.len() >= 32);
    // the token is stored only hashed
    let wait = rt.store.get(&AppWait::key(T, &rid)).await.unwrap().unwrap();
    assert!(!wait.body.to_string().contains(&token));
    assert_eq!(wait.body["token_hash"], json!(token_hash(&token)));

    let all = runs(&rt, &item.id).await;
    let r = run_of(&all, &a.id);
    assert_eq!(r.status, RunStatus::Waiting, "{r:?}");
    assert!(
        r.reason
            .as_deref()
            .unwrap()
            .contains("waiting for the application"),
        "{r:?}"
    );
    assert_eq!(run_of(&all, &next.id).status, RunStatus::Pending);

    // values that do not fit the return schema change nothing
    let bad = rt
        .engine
        .answer_robot_event(&token, answer(json!({"return_values": {"total": "x"}})))
        .await
        .unwrap_err();
    let mut f = fields_of(&bad);
    f.sort();
    assert_eq!(f, ["return_values.order_id", "return_values.total"]);
    assert_eq!(
        run_of(&runs(&rt, &item.id).await, &a.id).status,
        RunStatus::Waiting
    );
    // a forged token is unknown
    let forged = rt
        .engine
        .answer_robot_event(
            &"0".repeat(64),
            answer(json!({"return_values": {"order_id": "X"}})),
        )
        .await
        .unwrap_err();
    assert!(matches!(forged, EngineError::NotFound { .. }), "{forged}");

    let done = rt
        .engine
        .answer_robot_event(
            &token,
            answer(
                json!({"return_values": {"order_id": "ERP-42", "total": 99.5},
                "log_message": "created in the ERP"}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(done.status, RunStatus::Done);
    rt.settle().await.unwrap();
    let all = runs(&rt, &item.id).await;
    let r = run_of(&all, &a.id);
    assert_eq!(r.status, RunStatus::Done);
    assert_eq!(r.outputs["order_id"], json!("ERP-42"));
    assert_eq!(r.outputs["total"], json!(99.5));
    assert!(r.reason.as_deref().unwrap().contains("created in the ERP"));
    assert_eq!(run_of(&all, &next.id).status, RunStatus::Done);
    assert_eq!(comments(&rt, &item.id).await, ["order ERP-42"]);

    // a second answer is refused and changes nothing
    let twice = rt
        .engine
        .answer_robot_event(
            &token,
            answer(json!({"return_values": {"order_id": "OTHER"}})),
        )
        .await
        .unwrap_err();
    assert!(matches!(twice, EngineError::Conflict(_)), "{twice}");
    assert_eq!(
        run_of(&runs(&rt, &item.id).await, &a.id).outputs["order_id"],
        json!("ERP-42")
    );
    // the timer at the deadline finds the run final: nothing more
    rt.advance(Duration::hours(2)).await.unwrap();
    assert_eq!(
        run_of(&runs(&rt, &item.id).await, &a.id).status,
        RunStatus::Done
    );
    assert_eq!(rt.http.calls().len(), 1);
}

#[tokio::test]
async fn an_error_answer_fails_the_run_and_the_follower_runs() {
    let rt = company(MONDAY_1144_MSK).await;
    register(&rt, 3600).await;
    let a = robot(&rt, app_robot(json!({"note": "x"}))).await;
    let next = robot(&rt, follower("after")).await;
    let item = new_deal(&rt).await;
    let (_, _, token) = last_call(&rt);
    rt.engine
        .answer_robot_event(&token, answer(json!({"error": "the ERP is closed"})))
        .await
        .unwrap();
    rt.settle().await.unwrap();
    let all = runs(&rt, &item.id).await;
    let r = run_of(&all, &a.id);
    assert_eq!(r.status, RunStatus::Failed);
    assert!(
        r.reason.as_deref().unwrap().contains("the ERP is closed"),
        "{r:?}"
    );
    assert_eq!(run_of(&all, &next.id).status, RunStatus::Done);
}

#[tokio::test]
async fn no_answer_within_the_timeout_fails_the_run() {
    let rt = company(MONDAY_1144_MSK).await;
    register(&rt, 600).await;
    let a = robot(&rt, app_robot(json!({"note": "x"}))).await;
    let next = robot(&rt, follower("after")).await;
    let item = new_deal(&rt).await;
    let start = rt.clock.now();
    let (_, _, token) = last_call(&rt);
    rt.advance(Duration::seconds(599)).await.unwrap();
    assert_eq!(
        run_of(&runs(&rt, &item.id).await, &a.id).status,
        RunStatus::Waiting
    );
    rt.advance(Duration::seconds(1)).await.unwrap();
    let all = runs(&rt, &item.id).await;
    let r = run_of(&all, &a.id);
    assert_eq!(r.status, RunStatus::Failed);
    assert!(
        r.reason
            .as_deref()
            .unwrap()
            .contains("did not answer within 10 min"),
        "{r:?}"
    );
    assert_eq!((r.finished_at.unwrap() - start).num_seconds(), 600);
    assert_eq!(run_of(&all, &next.id).status, RunStatus::Done);
    let late = rt
        .engine
        .answer_robot_event(&token, answer(json!({"return_values": {"order_id": "X"}})))
        .await
        .unwrap_err();
    assert!(matches!(late, EngineError::Conflict(_)), "{late}");
}

#[tokio::test]
async fn a_failing_handler_is_retried_and_a_404_fails_the_run() {
    let rt = company(MONDAY_1144_MSK).await;
    register(&rt, 3600).await;
    let a = robot(&rt, app_robot(json!({"note": "x"}))).await;
    rt.http.respond(503, &[], "busy");
    rt.http.respond(404, &[], "no such robot");
    let item = new_deal(&rt).await;
    assert_eq!(rt.http.calls().len(), 1);
    rt.advance(Duration::seconds(30)).await.unwrap();
    let calls = rt.http.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[0].header("Idempotency-Key"),
        calls[1].header("Idempotency-Key")
    );
    let r = run_of(&runs(&rt, &item.id).await, &a.id).clone();
    assert_eq!(r.status, RunStatus::Failed);
    assert!(r.reason.as_deref().unwrap().contains("404"), "{r:?}");
}

#[tokio::test]
async fn leaving_the_stage_cancels_the_wait_and_a_late_answer_is_refused() {
    let rt = company(MONDAY_1144_MSK).await;
    register(&rt, 3600).await;
    let a = robot(&rt, app_robot(json!({"note": "x"}))).await;
    let item = new_deal(&rt).await;
    let (_, _, token) = last_call(&rt);
    move_to(&rt, &item.id, "prep").await;
    let r = run_of(&runs(&rt, &item.id).await, &a.id).clone();
    assert_eq!(r.status, RunStatus::Cancelled);
    let late = rt
        .engine
        .answer_robot_event(&token, answer(json!({"return_values": {"order_id": "X"}})))
        .await
        .unwrap_err();
    assert!(matches!(late, EngineError::Conflict(_)), "{late}");
    rt.advance(Duration::hours(2)).await.unwrap();
    assert_eq!(
        run_of(&runs(&rt, &item.id).await, &a.id).status,
        RunStatus::Cancelled
    );
}

#[tokio::test]
async fn a_deleted_type_fails_its_runs_and_types_are_listed_by_page() {
    let rt = company(MONDAY_1144_MSK).await;
    register(&rt, 3600).await;
    for code in ["a1", "a2", "a3"] {
        let b: RobotTypeBody =
            body(json!({"code": code, "name": code, "handler_url": "https://a.example.com/"}));
        rt.engine.create_robot_type(T, b).await.unwrap();
    }
    let p1 = rt
        .engine
        .robot_types_page(T, &crm_core::engine::PageRequest::new(Some(3), None))
        .await
        .unwrap();
    assert_eq!(p1.items.len(), 3);
    let p2 = rt
        .engine
        .robot_types_page(
            T,
            &crm_core::engine::PageRequest::new(Some(3), p1.next_cursor),
        )
        .await
        .unwrap();
    let codes: Vec<_> = p1
        .items
        .iter()
        .chain(&p2.items)
        .map(|t| t.code.clone())
        .collect();
    assert_eq!(codes, ["a1", "a2", "a3", "crm_sync"]);
    assert!(p2.next_cursor.is_none());

    let a = robot(&rt, app_robot(json!({"note": "x"}))).await;
    rt.engine.delete_robot_type(T, "crm_sync").await.unwrap();
    let item = new_deal(&rt).await;
    let r = run_of(&runs(&rt, &item.id).await, &a.id).clone();
    assert_eq!(r.status, RunStatus::Failed);
    assert!(
        r.reason.as_deref().unwrap().contains("robot type deleted"),
        "{r:?}"
    );
    assert!(rt.http.calls().is_empty());
}
