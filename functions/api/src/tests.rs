//! The router behind realistic API Gateway HTTP API events, against the
//! engine on in-memory ports.

use super::*;
use crm_core::memory::MemRuntime;
use crm_core::testing::{MONDAY_1144_MSK, TENANT as T, at};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::collections::HashMap;

const KEY: &str = "secret-key-1";

/// An API Gateway HTTP API (payload format 2.0) event, as Lambda delivers it.
fn apigw(method: &str, path: &str, key: Option<&str>, body: Option<Value>) -> Request {
    let mut headers = json!({
        "accept": "application/json",
        "content-type": "application/json",
        "host": "abc123.execute-api.us-east-1.amazonaws.com",
        "user-agent": "curl/8.5.0",
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-proto": "https"
    });
    if let Some(k) = key {
        headers["authorization"] = json!(format!("Bearer {k}"));
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "curl/8.5.0"
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": "$default",
            "stage": "$default",
            "time": "23/Nov/2026:08:44:00 +0000",
            "timeEpoch": 1_763_887_440_000_i64
        },
        "isBase64Encoded": false
    });
    if let Some(b) = body {
        event["body"] = json!(b.to_string());
    }
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

async fn call(router: &Router, request: Request) -> (u16, Value) {
    let response = handle(router, request).await;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, body)
}

async fn runtime() -> (MemRuntime, Router) {
    let rt = MemRuntime::new(at(MONDAY_1144_MSK));
    let router = app(Arc::new(rt.engine.clone()), ApiKeys::single(T, KEY));
    (rt, router)
}

#[tokio::test]
async fn health_needs_no_key() {
    let (_rt, router) = runtime().await;
    let (status, body) = call(&router, apigw("GET", "/v1/health", None, None)).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"status": "ok"}));
}

#[tokio::test]
async fn requests_without_a_valid_key_are_rejected() {
    let (rt, router) = runtime().await;
    let (status, body) = call(&router, apigw("GET", "/v1/items/x", None, None)).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = call(&router, apigw("GET", "/v1/items/x", Some("wrong"), None)).await;
    assert_eq!(status, 401);
    assert!(rt.events.is_empty());
}

#[tokio::test]
async fn an_external_event_is_accepted_and_queued_once_per_idempotency_key() {
    let (rt, router) = runtime().await;
    for put in crm_core::testing::company() {
        let path = put.path();
        let (status, body) = call(&router, apigw("PUT", &path, Some(KEY), Some(put.body))).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let (status, item) = call(
        &router,
        apigw(
            "POST",
            "/v1/items",
            Some(KEY),
            Some(
                json!({"pipeline_id": "deals", "stage_id": "new", "title": "Website",
                "responsible_id": "u-anna"}),
            ),
        ),
    )
    .await;
    assert_eq!(status, 201, "{item}");
    let item_id = item["id"].as_str().unwrap().to_owned();

    let event = json!({"type": "webhook", "item_id": item_id, "data": {"code": "paid"},
        "idempotency_key": "erp-42"});
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (status, body) = call(
            &router,
            apigw("POST", "/v1/events", Some(KEY), Some(event.clone())),
        )
        .await;
        assert_eq!(status, 202, "{body}");
        ids.push(body["event_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids[0], ids[1], "same idempotency key, same event id");
    let queued = rt.events.pop().unwrap();
    assert_eq!(queued.tenant, T);
    assert_eq!(queued.event_id, ids[0]);
    assert_eq!(queued.item_id.as_deref(), Some(item_id.as_str()));

    let (status, body) = call(
        &router,
        apigw(
            "POST",
            "/v1/events",
            Some(KEY),
            Some(json!({"type": "no_such_type", "item_id": item_id})),
        ),
    )
    .await;
    assert_eq!(status, 422, "{body}");
}

#[test]
fn api_keys_come_from_the_environment() {
    let env = |vars: &[(&str, &str)]| {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| m.get(k).cloned()
    };
    let keys = keys_from_lookup(env(&[(API_KEYS_VAR, "acme:k1, beta:k2")])).unwrap();
    assert_eq!(keys.tenant_for("k2"), Some("beta"));
    assert!(matches!(
        keys_from_lookup(env(&[])),
        Err(ConfigError::MissingKeys)
    ));
    assert!(matches!(
        keys_from_lookup(env(&[(API_KEYS_VAR, "  ")])),
        Err(ConfigError::MissingKeys)
    ));
    let err = keys_from_lookup(env(&[(API_KEYS_VAR, "no-colon")])).unwrap_err();
    assert!(matches!(err, ConfigError::InvalidKeys(_)), "{err}");
}
