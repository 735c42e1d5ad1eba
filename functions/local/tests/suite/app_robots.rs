//! Custom robot types of applications (issue #14) on the local server
//! (SQLite, manual clock), end to end with a real handler on 127.0.0.1
//! (allow-listed as with `CRM_WEBHOOK_ALLOW`): the type is registered, a
//! robot of type `app.<code>` is saved (bad settings → 422 naming them), the
//! run POSTs a signed request with the event token to the handler, and the
//! application's answer through `POST /v1/robot-events/{token}` (no key)
//! finishes the run; its values reach the next robot; a second answer is
//! 409, a forged token 404; the catalogue lists the type; without an answer
//! the run fails at the timeout.

use crate::common;

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::{MONDAY_1144_MSK, run_of, started};
use reqwest::Method;
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Handler {
    seen: Arc<Mutex<Vec<(HeaderMap, String)>>>,
}

async fn handle(State(h): State<Handler>, headers: HeaderMap, body: String) -> StatusCode {
    h.seen.lock().unwrap().push((headers, body));
    StatusCode::ACCEPTED
}

/// A handler on 127.0.0.1 (port chosen by the system), allow-listed.
async fn handler() -> (Handler, u16) {
    let h = Handler::default();
    let app = axum::Router::new()
        .route("/robot", post(handle))
        .with_state(h.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (list, _) = crm_core::webhook::guard::AllowList::parse(&format!("127.0.0.1:{port}"));
    crm_core::webhook::guard::install_allow_list(list);
    (h, port)
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The application's answer: no API key, the token in the path.
async fn answer(base: &str, token: &str, body: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{base}/v1/robot-events/{token}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn robot_type(port: u16, timeout: u64) -> Value {
    json!({
        "code": "erp_order", "name": "Create the ERP order",
        "handler_url": format!("http://127.0.0.1:{port}/robot"),
        "settings_schema": {"type": "object", "properties": {
            "note": {"type": "string", "title": "Note"},
            "copies": {"type": "integer", "default": 1}
        }, "required": ["note"]},
        "return_schema": {"type": "object", "properties": {
            "order_id": {"type": "string"}
        }, "required": ["order_id"]},
        "timeout_seconds": timeout
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_answers_by_token_and_the_next_robot_uses_its_values() {
    let (_dir, server, api, globex) = started(MONDAY_1144_MSK).await;
    let (h, port) = handler().await;
    let base = server.base_url();
    let (_, rotated) = api
        .call(Method::POST, "/v1/webhook-secret/rotate", None)
        .await;
    let secret = rotated["secret"].as_str().unwrap().to_string();

    // register; bad registrations name the field
    let (status, err) = api
        .call(
            Method::POST,
            "/v1/robot-types",
            Some(
                json!({"code": "x", "name": "x", "handler_url": "http://169.254.169.254/",
                "settings_schema": {"properties": {"a": {"type": "object"}}}}),
            ),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    let mut fields: Vec<String> = err["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap().to_string())
        .collect();
    fields.sort();
    assert_eq!(fields, ["handler_url", "settings_schema.properties.a.type"]);
    let (status, made) = api
        .call(
            Method::POST,
            "/v1/robot-types",
            Some(robot_type(port, 3600)),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let (status, _) = api
        .call(
            Method::POST,
            "/v1/robot-types",
            Some(robot_type(port, 3600)),
        )
        .await;
    assert_eq!(status, 409, "the code is taken");
    assert_eq!(
        api.get("/v1/robot-types").await["robot_types"][0]["code"],
        "erp_order"
    );
    let (status, _) = globex
        .call(Method::GET, "/v1/robot-types/erp_order", None)
        .await;
    assert_eq!(status, 404, "another tenant's type");

    // the catalogue lists it, with a form built from its schema
    let cat = api.get("/v1/catalogue").await;
    let entry = cat["robots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "app.erp_order")
        .expect("the app type in the catalogue")
        .clone();
    assert_eq!(entry["group"], "apps");
    assert_eq!(entry["outputs"], json!(["order_id"]));
    assert_eq!(entry["templates"], json!(["note"]));
    assert_eq!(entry["settings_schema"]["required"], json!(["note"]));
    assert_eq!(entry["defaults"]["copies"], 1);
    let other = globex.get("/v1/catalogue").await;
    assert!(!other.to_string().contains("app.erp_order"));

    // settings are checked against the schema
    let (status, err) = api
        .call(
            Method::POST,
            "/v1/pipelines/deals/robots",
            Some(
                json!({"stage_id": "new", "type": "app.erp_order", "settings": {"copies": "two"}}),
            ),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    let mut fields: Vec<String> = err["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap().to_string())
        .collect();
    fields.sort();
    assert_eq!(fields, ["settings.copies", "settings.note"]);
    let app_id = api
        .robot(json!({"stage_id": "new", "type": "app.erp_order",
            "settings": {"note": "Order for {{title}}", "copies": 2}}))
        .await;
    let next_id = api
        .robot(
            json!({"stage_id": "new", "type": "add_timeline_comment", "after_previous": true,
            "settings": {"text": format!("ERP order {{{{robot.{app_id}.order_id}}}}")}}),
        )
        .await;
    let item = api.deal("new", 5000.0).await;

    // the handler got one signed request with the token
    let seen = h.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let (headers, body) = &seen[0];
    let runs = api.runs(&item).await;
    let run = run_of(&runs, &app_id).clone();
    assert_eq!(run["status"], "waiting", "{run}");
    assert_eq!(run["robot_type"], "app.erp_order");
    assert_eq!(
        header(headers, "idempotency-key"),
        run["id"].as_str().unwrap()
    );
    let ts: i64 = header(headers, "x-signature-timestamp").parse().unwrap();
    assert_eq!(
        header(headers, "x-signature"),
        crm_core::webhook::signature::sign(&secret, ts, body)
    );
    let sent: Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        sent["settings"],
        json!({"note": "Order for Website for Romashka", "copies": 2})
    );
    assert_eq!(sent["item"]["id"], json!(item));
    let token = sent["event_token"].as_str().unwrap().to_string();
    assert_eq!(run_of(&runs, &next_id)["status"], "pending");

    // a forged token: 404; values off the schema: 422 and nothing changes
    let (status, _) = answer(
        &base,
        &"f".repeat(64),
        json!({"return_values": {"order_id": "X"}}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, err) = answer(&base, &token, json!({"return_values": {"order_id": 7}})).await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(
        err["error"]["details"][0]["field"],
        "return_values.order_id"
    );

    let (status, done) = answer(
        &base,
        &token,
        json!({"return_values": {"order_id": "ERP-42"}, "log_message": "created"}),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "done");
    api.settle().await;
    let runs = api.runs(&item).await;
    let run = run_of(&runs, &app_id).clone();
    assert_eq!(run["status"], "done", "{run}");
    assert_eq!(run["outputs"]["order_id"], "ERP-42");
    assert_eq!(run_of(&runs, &next_id)["status"], "done");
    let texts: Vec<String> = api
        .timeline(&item)
        .await
        .iter()
        .filter(|e| e["kind"] == "comment")
        .map(|e| e["text"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(texts, ["ERP order ERP-42"]);

    let (status, err) = answer(
        &base,
        &token,
        json!({"return_values": {"order_id": "again"}}),
    )
    .await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(
        run_of(&api.runs(&item).await, &app_id)["outputs"]["order_id"],
        "ERP-42"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_answer_the_run_fails_at_the_timeout() {
    let (_dir, server, api, _) = started(MONDAY_1144_MSK).await;
    let (h, port) = handler().await;
    api.post("/v1/robot-types", robot_type(port, 120)).await;
    let app_id = api
        .robot(json!({"stage_id": "new", "type": "app.erp_order", "settings": {"note": "x"}}))
        .await;
    let item = api.deal("new", 10.0).await;
    assert_eq!(h.seen.lock().unwrap().len(), 1);
    api.advance(119).await;
    assert_eq!(run_of(&api.runs(&item).await, &app_id)["status"], "waiting");
    api.advance(1).await;
    let run = run_of(&api.runs(&item).await, &app_id).clone();
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        run["reason"]
            .as_str()
            .unwrap()
            .contains("did not answer within 2 min"),
        "{run}"
    );
    let sent: Value = serde_json::from_str(&h.seen.lock().unwrap()[0].1).unwrap();
    let (status, _) = answer(
        &server.base_url(),
        sent["event_token"].as_str().unwrap(),
        json!({"return_values": {"order_id": "late"}}),
    )
    .await;
    assert_eq!(status, 409);
}
