//! Webhooks out (issue #14) on the local server (SQLite, manual clock), end
//! to end with a real HTTP receiver on 127.0.0.1 (allow-listed as the
//! operator would with `CRM_WEBHOOK_ALLOW`): the request is signed with the
//! tenant's secret and carries the run id as `Idempotency-Key`; a 503 with
//! `Retry-After` is retried then, with the same key; the answer's fields
//! reach the next robot; the secret is shown once.

use crate::common;

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use common::{MONDAY_1144_MSK, run_of, started};
use reqwest::Method;
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<(HeaderMap, String)>>>,
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: String) -> impl IntoResponse {
    let n = {
        let mut seen = r.seen.lock().unwrap();
        seen.push((headers, body));
        seen.len()
    };
    if n == 1 {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [("retry-after", "60")],
            "busy".to_string(),
        )
    } else {
        (
            StatusCode::OK,
            [("content-type", "application/json")],
            r#"{"ticket": {"id": "T-42"}}"#.to_string(),
        )
    }
}

/// A receiver on 127.0.0.1 (port chosen by the system), allow-listed.
async fn receiver() -> (Receiver, u16) {
    let r = Receiver::default();
    let app = axum::Router::new()
        .route("/hook", post(hook))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (list, _) = crm_core::webhook::guard::AllowList::parse(&format!("127.0.0.1:{port}"));
    crm_core::webhook::guard::install_allow_list(list);
    (r, port)
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_call_is_retried_after_retry_after_and_its_answer_reaches_the_next_robot() {
    let (_dir, server, api, globex) = started(MONDAY_1144_MSK).await;
    let (rx, port) = receiver().await;

    // the secret: none yet; rotating answers it once (admin); members and
    // the GET never see it
    assert_eq!(api.get("/v1/webhook-secret").await["set"], false);
    let (status, rotated) = api
        .call(Method::POST, "/v1/webhook-secret/rotate", None)
        .await;
    assert_eq!(status, 200, "{rotated}");
    let secret = rotated["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let shown = api.get("/v1/webhook-secret").await;
    assert_eq!(shown["set"], true);
    assert!(!shown.to_string().contains(&secret));
    assert_eq!(globex.get("/v1/webhook-secret").await["set"], false);

    // a private address is refused at save time, naming the field
    let (status, err) = api
        .call(
            Method::POST,
            "/v1/pipelines/deals/robots",
            Some(json!({"stage_id": "new", "type": "call_webhook",
                "settings": {"url": "http://169.254.169.254/latest/meta-data/"}})),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["details"][0]["field"], "settings.url");

    let hook_id = api
        .robot(
            json!({"stage_id": "new", "type": "call_webhook", "settings": {
                "url": format!("http://127.0.0.1:{port}/hook?deal={{{{id}}}}"),
                "body": {"title": "{{title}}", "amount": "{{amount}}"},
                "outputs": {"ticket_id": "/ticket/id"}
            }}),
        )
        .await;
    let next_id = api
        .robot(
            json!({"stage_id": "new", "type": "add_timeline_comment", "after_previous": true,
            "settings": {"text": format!("ticket {{{{robot.{hook_id}.ticket_id}}}}")}}),
        )
        .await;
    let item = api.deal("new", 5000.0).await;

    // first attempt: 503, the run waits, the next robot too
    assert_eq!(rx.seen.lock().unwrap().len(), 1);
    let runs = api.runs(&item).await;
    let run = run_of(&runs, &hook_id).clone();
    assert_eq!(run["status"], "waiting", "{run}");
    assert!(run["reason"].as_str().unwrap().contains("503"), "{run}");
    assert_eq!(run_of(&runs, &next_id)["status"], "pending");

    api.advance(59).await;
    assert_eq!(rx.seen.lock().unwrap().len(), 1, "not before Retry-After");
    api.advance(1).await;

    let seen = rx.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    let run_id = run["id"].as_str().unwrap();
    for (h, body) in &seen {
        assert_eq!(header(h, "idempotency-key"), run_id);
        let ts: i64 = header(h, "x-signature-timestamp").parse().unwrap();
        assert_eq!(
            header(h, "x-signature"),
            crm_core::webhook::signature::sign(&secret, ts, body)
        );
        let sent: Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            sent,
            json!({"title": "Website for Romashka", "amount": "5000"})
        );
    }
    let runs = api.runs(&item).await;
    let run = run_of(&runs, &hook_id);
    assert_eq!(run["status"], "done", "{run}");
    assert_eq!(run["outputs"]["ticket_id"], "T-42");
    assert_eq!(run["outputs"]["status_code"], 200);
    assert!(
        run["reason"].as_str().unwrap().contains("(attempt 2)"),
        "{run}"
    );
    let comments: Vec<String> = api
        .timeline(&item)
        .await
        .into_iter()
        .filter(|e| e["kind"] == "comment")
        .map(|e| e["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(comments, ["ticket T-42"]);

    // a day later nothing is called again
    api.advance(86_400).await;
    assert_eq!(rx.seen.lock().unwrap().len(), 2);
    server.shutdown().await.unwrap();
}
