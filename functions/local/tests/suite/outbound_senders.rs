//! Email and SMS out (issue #15) on the local server, end to end: the
//! server is configured the way an operator does it (`CRM_SMTP_URL`,
//! `CRM_MAIL_FROM`, `CRM_SMS_GATEWAY_*`) and talks to a real SMTP sink and a
//! real HTTP SMS gateway on 127.0.0.1. The sink answers the first message
//! `451` (transient: retried a minute later) and refuses one mailbox with
//! `550` (permanent: failed, on the timeline, retried by hand).
//!
//! One test in this binary: it sets the process environment before the
//! server starts.

use crate::common;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use common::smtp_sink::Sink;
use common::{MONDAY_1144_MSK, started};
use reqwest::Method;
use serde_json::{Value, json};

/// The SMS gateway: keeps each request's auth header and JSON body.
#[derive(Clone, Default)]
struct Gateway {
    seen: Arc<Mutex<Vec<(String, Value)>>>,
}

async fn send_sms(State(g): State<Gateway>, headers: HeaderMap, body: String) -> String {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut seen = g.seen.lock().unwrap();
    seen.push((auth, serde_json::from_str(&body).unwrap_or(Value::Null)));
    json!({"id": format!("gw-{}", seen.len())}).to_string()
}

async fn gateway() -> (Gateway, u16) {
    let g = Gateway::default();
    let app = axum::Router::new()
        .route("/send", post(send_sms))
        .with_state(g.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (g, port)
}

fn only(list: Vec<Value>) -> Value {
    assert_eq!(list.len(), 1, "{list:#?}");
    list.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_robots_email_and_sms_reach_the_smtp_server_and_the_gateway() {
    let (sink, smtp_port) = Sink::start().await;
    let (gw, gw_port) = gateway().await;
    // SAFETY: the only test of this binary; set before anything reads them.
    unsafe {
        std::env::set_var("CRM_SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}"));
        std::env::set_var("CRM_MAIL_FROM", "CRM Robots <robots@shop.test>");
        std::env::set_var(
            "CRM_SMS_GATEWAY_URL",
            format!("http://127.0.0.1:{gw_port}/send"),
        );
        std::env::set_var(
            "CRM_SMS_GATEWAY_TEMPLATE",
            r#"{"phone":"{to}","message":"{text}","ref":"{id}"}"#,
        );
        std::env::set_var("CRM_SMS_GATEWAY_HEADER", "Authorization: Bearer gw-key");
        std::env::set_var("CRM_WEBHOOK_ALLOW", format!("127.0.0.1:{gw_port}"));
    }
    let (_dir, server, api, globex) = started(MONDAY_1144_MSK).await;
    assert!(
        server.senders.email.starts_with("SMTP smtp://127.0.0.1"),
        "{:?}",
        server.senders
    );
    api.robot(json!({"stage_id": "new", "type": "email_client",
        "settings": {"subject": "Your offer, {{client.name}}",
                     "text": "<p>Dear {{client.name}},</p><p>see <a href=\"https://shop.test/o\">the offer</a></p>"}}))
        .await;
    api.robot(json!({"stage_id": "new", "type": "sms_client",
        "settings": {"text": "Thanks, \"{{client.name}}\""}}))
        .await;

    // The first email meets a busy server: queued again for a minute later.
    sink.busy_once.store(true, Ordering::SeqCst);
    let item = api.deal("new", 100.0).await;
    let email = only(api.all_pages("/v1/outbox?channel=email", "messages").await);
    assert_eq!(email["status"], "queued", "{email:#}");
    assert_eq!(email["attempts"], 1);
    assert!(
        email["last_error"].as_str().unwrap().contains("451"),
        "{email:#}"
    );
    assert!(sink.messages.lock().unwrap().is_empty());
    api.advance(60).await;
    let email = only(api.all_pages("/v1/outbox?channel=email", "messages").await);
    let id = email["id"].as_str().unwrap();
    let message_id = format!("<out.{id}@shop.test>");
    assert_eq!(email["status"], "sent", "{email:#}");
    assert_eq!(email["attempts"], 2);
    assert_eq!(email["provider_message_id"], message_id.as_str());
    let got = only(
        sink.messages
            .lock()
            .unwrap()
            .iter()
            .map(|m| Value::String(m.clone()))
            .collect(),
    );
    let got = got.as_str().unwrap();
    assert!(got.contains(&format!("Message-ID: {message_id}")), "{got}");
    assert!(got.contains("Subject: Your offer, Romashka LLC"), "{got}");
    assert!(got.contains("To: buyer@romashka.test"), "{got}");
    assert!(
        got.contains("From: \"CRM Robots\" <robots@shop.test>"),
        "{got}"
    );
    assert!(got.contains("multipart/alternative"), "{got}");
    assert!(got.contains("Dear Romashka LLC,"), "{got}");
    // The client's email is tracked (README "Email tracking"): its link
    // goes through the click route and a pixel is added.
    assert!(got.contains("/t/c/") && got.contains("/t/o/"), "{got}");
    assert!(!got.contains("https://shop.test/o\""), "{got}");

    // The SMS went to the gateway, filled in, with its auth header.
    let (auth, body) = only(
        gw.seen
            .lock()
            .unwrap()
            .iter()
            .map(|(a, b)| json!([a, b]))
            .collect(),
    )
    .as_array()
    .map(|a| (a[0].clone(), a[1].clone()))
    .unwrap();
    assert_eq!(auth, "Bearer gw-key");
    let sms = only(api.all_pages("/v1/outbox?channel=sms", "messages").await);
    assert_eq!(
        body,
        json!({"phone": "+7 (495) 123-45-67", "message": "Thanks, \"Romashka LLC\"", "ref": sms["id"]})
    );
    assert_eq!(sms["status"], "sent", "{sms:#}");
    assert_eq!(sms["provider_message_id"], "gw-1");

    // A mailbox the server refuses: failed at once, in the dead letter and
    // on the item's timeline; not retried by itself.
    sink.refuse_bounce.store(true, Ordering::SeqCst);
    let mut bounced = crm_core::testing::deal("new", 50.0);
    bounced["client"]["email"] = json!("bounce@romashka.test");
    let bounced = api.post("/v1/items", bounced).await;
    let bounced_id = bounced["id"].as_str().unwrap();
    api.settle().await;
    let failed = only(api.all_pages("/v1/outbox?status=failed", "messages").await);
    assert_eq!(failed["to"], "bounce@romashka.test");
    assert!(
        failed["last_error"].as_str().unwrap().contains("550"),
        "{failed:#}"
    );
    let timeline = api.timeline(bounced_id).await;
    assert!(
        timeline.iter().any(|e| e["kind"] == "delivery_failed"
            && e["text"]
                .as_str()
                .unwrap()
                .starts_with("Email to bounce@romashka.test failed: ")),
        "{timeline:#?}"
    );
    let mails = sink.mails.load(Ordering::SeqCst);
    api.advance(86_400).await;
    assert_eq!(
        sink.mails.load(Ordering::SeqCst),
        mails,
        "a failed email is left alone"
    );

    // Retried by hand once the mailbox exists: sent. Bad filters and
    // another tenant's id are refused.
    let fid = failed["id"].as_str().unwrap();
    let (status, _) = api.call(Method::GET, "/v1/outbox?status=lost", None).await;
    assert_eq!(status, 400);
    let (status, _) = globex
        .call(Method::POST, &format!("/v1/outbox/{fid}/retry"), None)
        .await;
    assert_eq!(status, 404);
    sink.refuse_bounce.store(false, Ordering::SeqCst);
    let (status, again) = api
        .call(Method::POST, &format!("/v1/outbox/{fid}/retry"), None)
        .await;
    assert_eq!(status, 200, "{again:#}");
    assert_eq!(again["status"], "queued");
    api.settle().await;
    let (status, conflict) = api
        .call(Method::POST, &format!("/v1/outbox/{fid}/retry"), None)
        .await;
    assert_eq!(status, 409, "{conflict:#}");
    let sent = api
        .all_pages("/v1/outbox?channel=email&status=sent", "messages")
        .await;
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert_eq!(sink.messages.lock().unwrap().len(), 2);
    assert!(!item.is_empty());
    server.shutdown().await.unwrap();
}
