//! Webhooks out (issue #14) on the AWS function set (LocalStack): the call
//! is made by the stage-change step from the table's stream (after the
//! commit that made the run `waiting`), through the real HTTP adapter, to an
//! allow-listed receiver on 127.0.0.1, with the run id as idempotency key.
//! Known gap: the retry (a job through the scheduler and the robot queue)
//! is covered on the memory runtime and the local server, not yet on this
//! rig (the retry job did not reach the runner here; to investigate).

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use crm_core::model::RunStatus;
use crm_core::testing::{MONDAY_1144_MSK, at, body};
use crm_tests::aws_rig::AwsRig;
use serde_json::json;

#[derive(Clone, Default)]
struct Receiver {
    keys: Arc<Mutex<Vec<String>>>,
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap) -> impl IntoResponse {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let n = {
        let mut keys = r.keys.lock().unwrap();
        keys.push(key);
        keys.len()
    };
    if n == 1 {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [("retry-after", "120")],
            "{}",
        )
    } else {
        (
            StatusCode::OK,
            [("content-type", "application/json")],
            r#"{"id": "X-1"}"#,
        )
    }
}

#[tokio::test]
async fn a_webhook_on_aws_is_called_from_the_stream_after_the_commit() {
    let rx = Receiver::default();
    let app = axum::Router::new()
        .route("/hook", post(hook))
        .with_state(rx.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    crm_core::webhook::guard::install_allow_list(
        crm_core::webhook::guard::AllowList::parse(&format!("127.0.0.1:{port}")).0,
    );

    let rig = AwsRig::new("webhook", at(MONDAY_1144_MSK)).await;
    let t = rig.tenant.clone();
    for put in crm_core::testing::company() {
        put.apply(&rig.engine, &t).await.unwrap();
    }
    let h = rig
        .engine
        .create_robot(
            &t,
            "deals",
            body(
                json!({"stage_id": "new", "type": "call_webhook", "settings": {
                "url": format!("http://127.0.0.1:{port}/hook"),
                "body": {"title": "{{title}}"},
                "outputs": {"remote_id": "/id"}}}),
            ),
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
                "settings": {"text": format!("remote {{{{robot.{}.remote_id}}}}", h.id)}}),
            ),
        )
        .await
        .unwrap();
    let item = rig
        .engine
        .create_item(&t, body(crm_core::testing::plain_deal("Website")))
        .await
        .unwrap();
    // the stream is asynchronous: settle until the first attempt was made
    for _ in 0..60 {
        rig.settle().await;
        if !rx.keys.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let run_of = |runs: &[crm_core::model::RunRecord], id: &str| {
        runs.iter()
            .find(|r| r.robot_id.as_deref() == Some(id))
            .cloned()
            .unwrap()
    };
    let runs = rig.engine.runs(&t, &item.id).await.unwrap();
    let r = run_of(&runs, &h.id);
    assert_eq!(r.status, RunStatus::Waiting, "{r:?}");
    assert_eq!(
        rx.keys.lock().unwrap().as_slice(),
        std::slice::from_ref(&r.id)
    );
    assert!(
        r.reason.as_deref().unwrap().contains("attempt 1 got 503"),
        "{r:?}"
    );
    let f = run_of(&runs, &next.id);
    assert_eq!(
        (f.status, f.due_at),
        (RunStatus::Pending, None),
        "the follower waits"
    );

    rig.teardown().await;
}
