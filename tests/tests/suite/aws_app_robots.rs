//! Custom robot types of applications (issue #14) on the AWS function set
//! (LocalStack): the handler is called by the stage-change step from the
//! table's stream after the commit that made the run `waiting`, through the
//! real HTTP adapter, to an allow-listed handler on 127.0.0.1; the answer
//! (what the API function runs for `POST /v1/robot-events/{token}`) finds
//! the run by the token's hash alone, finishes it, and the robot after it
//! runs from the stream; without an answer the timer fails the run.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use crm_core::apps::event::RobotEventAnswer;
use crm_core::apps::robot_type::RobotTypeBody;
use crm_core::model::{RunRecord, RunStatus};
use crm_core::testing::{MONDAY_1144_MSK, at, body};
use crm_tests::aws_rig::AwsRig;
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Handler {
    bodies: Arc<Mutex<Vec<String>>>,
}

async fn handle(State(h): State<Handler>, b: String) -> StatusCode {
    h.bodies.lock().unwrap().push(b);
    StatusCode::OK
}

async fn handler() -> (Handler, u16) {
    let h = Handler::default();
    let app = axum::Router::new()
        .route("/robot", post(handle))
        .with_state(h.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    crm_core::webhook::guard::install_allow_list(
        crm_core::webhook::guard::AllowList::parse(&format!("127.0.0.1:{port}")).0,
    );
    (h, port)
}

/// A rig with the standard company, an app type with `timeout` and a robot
/// of it followed by a comment that uses its output; returns the rig, the
/// two robot ids.
async fn rig_with_app(name: &str, port: u16, timeout: u64) -> (AwsRig, String, String) {
    let rig = AwsRig::new(name, at(MONDAY_1144_MSK)).await;
    let t = rig.tenant.clone();
    for put in crm_core::testing::company() {
        put.apply(&rig.engine, &t).await.unwrap();
    }
    let def: RobotTypeBody = body(json!({
        "code": "erp", "name": "ERP order",
        "handler_url": format!("http://127.0.0.1:{port}/robot"),
        "settings_schema": {"properties": {"note": {"type": "string"}}},
        "return_schema": {"properties": {"order_id": {"type": "string"}}, "required": ["order_id"]},
        "timeout_seconds": timeout
    }));
    rig.engine.create_robot_type(&t, def).await.unwrap();
    let a = rig
        .engine
        .create_robot(
            &t,
            "deals",
            body(json!({"stage_id": "new", "type": "app.erp", "settings": {"note": "{{title}}"}})),
        )
        .await
        .unwrap();
    let next = rig
        .engine
        .create_robot(
            &t,
            "deals",
            body(
                json!({"stage_id": "new", "type": "add_timeline_comment", "after_previous": true,
                "settings": {"text": format!("ERP {{{{robot.{}.order_id}}}}", a.id)}}),
            ),
        )
        .await
        .unwrap();
    (rig, a.id, next.id)
}

fn run_of(runs: &[RunRecord], id: &str) -> RunRecord {
    runs.iter()
        .find(|r| r.robot_id.as_deref() == Some(id))
        .cloned()
        .unwrap()
}

/// Settle until the handler was called; its request body.
async fn first_call(rig: &AwsRig, h: &Handler) -> Value {
    for _ in 0..60 {
        rig.settle().await;
        if let Some(b) = h.bodies.lock().unwrap().first() {
            return serde_json::from_str(b).unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    panic!("the handler was not called");
}

#[tokio::test]
async fn an_app_robot_on_aws_is_answered_by_token_and_the_next_robot_runs() {
    let (h, port) = handler().await;
    let (rig, a, next) = rig_with_app("apps", port, 3600).await;
    let t = rig.tenant.clone();
    let item = rig
        .engine
        .create_item(&t, body(crm_core::testing::plain_deal("Website")))
        .await
        .unwrap();
    let sent = first_call(&rig, &h).await;
    assert_eq!(sent["settings"]["note"], "Website");
    let runs = rig.engine.runs(&t, &item.id).await.unwrap();
    assert_eq!(run_of(&runs, &a).status, RunStatus::Waiting);
    let token = sent["event_token"].as_str().unwrap();
    let answer: RobotEventAnswer =
        serde_json::from_value(json!({"return_values": {"order_id": "ERP-9"}})).unwrap();
    let done = rig
        .engine
        .answer_robot_event(token, answer.clone())
        .await
        .unwrap();
    assert_eq!(done.status, RunStatus::Done);
    for _ in 0..20 {
        rig.settle().await;
        let runs = rig.engine.runs(&t, &item.id).await.unwrap();
        if run_of(&runs, &next).status == RunStatus::Done {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let runs = rig.engine.runs(&t, &item.id).await.unwrap();
    assert_eq!(run_of(&runs, &a).outputs["order_id"], json!("ERP-9"));
    let f = run_of(&runs, &next);
    assert_eq!(f.status, RunStatus::Done, "{f:?}");
    assert!(
        rig.engine
            .answer_robot_event(token, answer)
            .await
            .is_err_and(|e| matches!(e, crm_core::error::EngineError::Conflict(_))),
        "a second answer is refused"
    );
    assert_eq!(h.bodies.lock().unwrap().len(), 1);
    rig.teardown().await;
}

#[tokio::test]
async fn an_unanswered_app_robot_on_aws_fails_at_its_timeout() {
    let (h, port) = handler().await;
    let (rig, a, next) = rig_with_app("apps-timeout", port, 120).await;
    let t = rig.tenant.clone();
    let item = rig
        .engine
        .create_item(&t, body(crm_core::testing::plain_deal("Website")))
        .await
        .unwrap();
    first_call(&rig, &h).await;
    rig.advance(chrono::Duration::seconds(121)).await;
    let runs = rig.engine.runs(&t, &item.id).await.unwrap();
    let r = run_of(&runs, &a);
    assert_eq!(r.status, RunStatus::Failed, "{r:?}");
    assert!(
        r.reason
            .as_deref()
            .unwrap()
            .contains("did not answer within 2 min"),
        "{r:?}"
    );
    assert_eq!(run_of(&runs, &next).status, RunStatus::Done);
    rig.teardown().await;
}
