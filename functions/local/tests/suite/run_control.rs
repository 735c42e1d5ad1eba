//! "Run now" and "stop automation" (issue #12) on the local server (SQLite,
//! manual clock), over HTTP: a run made due now runs at the next clock step,
//! once; a stopped visit runs nothing, even a day later.

use crate::common;

use common::{MONDAY_1144_MSK, started};
use reqwest::Method;
use serde_json::json;

fn reminder(text: &str) -> serde_json::Value {
    json!({"stage_id": "new", "type": "notify_employee", "name": text,
        "delay": {"mode": "after", "amount": 1, "unit": "days"},
        "settings": {"text": text, "recipient_ids": ["u-boss"]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_now_runs_at_the_next_clock_step_once_and_stop_cancels_the_visit() {
    let (_dir, server, api, _globex) = started(MONDAY_1144_MSK).await;
    api.robot(reminder("call the client")).await;
    let first = api.deal("new", 1000.0).await;
    let second = api.deal("new", 2000.0).await;
    let run = api.runs(&first).await[0].clone();
    assert_eq!(run["status"], "pending");
    let run_id = run["id"].as_str().unwrap();

    let (status, body) = api
        .call(
            Method::POST,
            &format!("/v1/items/{first}/runs/{run_id}/run-now"),
            None,
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "pending");
    api.settle().await;
    assert_eq!(api.notifications("u-boss").await.len(), 1, "ran now");
    assert_eq!(api.runs(&first).await[0]["status"], "done");

    let (status, body) = api
        .call(
            Method::POST,
            &format!("/v1/items/{second}/stop-automation"),
            Some(json!({"reason": "on hold"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["cancelled"], 1);
    api.advance(2 * 86_400).await;
    let notes = api.notifications("u-boss").await;
    assert_eq!(
        notes.len(),
        1,
        "the run-now one ran once, the stopped one never"
    );
    let r = &api.runs(&second).await[0];
    assert_eq!(r["status"], "cancelled");
    assert_eq!(r["reason"], "automation stopped by configured key: on hold");
    server.shutdown().await.unwrap();
}
