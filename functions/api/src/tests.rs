//! The router behind realistic API Gateway HTTP API events, against the
//! engine on in-memory ports.

use super::*;
use crm_core::api_keys::{ApiKeyStore, MemApiKeys, NewKey};
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
fn settings_come_from_the_environment() {
    let env = |vars: &[(&str, &str)]| {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| m.get(k).cloned()
    };
    let defaults = settings_from_lookup(env(&[])).unwrap();
    assert_eq!(defaults.throttle, ThrottleConfig::DEFAULT);
    let set =
        settings_from_lookup(env(&[(TENANT_RATE_VAR, "0"), (TENANT_BURST_VAR, " 9 ")])).unwrap();
    assert_eq!(set.throttle, ThrottleConfig { rate: 0, burst: 9 });
    let err = settings_from_lookup(env(&[(TENANT_RATE_VAR, "fast")])).unwrap_err();
    assert!(err.to_string().contains(TENANT_RATE_VAR), "{err}");
}

/// A tenant's key in `store`; returns the key.
async fn stored_key(store: &dyn ApiKeyStore, tenant: &str) -> String {
    let key = NewKey::generate(tenant, "test", chrono::Utc::now()).unwrap();
    store.add(&key.record).await.unwrap();
    key.secret
}

#[tokio::test]
async fn keys_come_from_the_store_and_each_tenant_has_its_own_limit() {
    let rt = MemRuntime::new(at(MONDAY_1144_MSK));
    let store = Arc::new(MemApiKeys::new());
    let a = stored_key(&*store, "tenant-a").await;
    let b = stored_key(&*store, "tenant-b").await;
    let settings = ApiSettings {
        throttle: ThrottleConfig { rate: 1, burst: 3 },
        ..ApiSettings::default()
    };
    let router = app_on_store(Arc::new(rt.engine.clone()), store, settings);
    for _ in 0..3 {
        let (status, body) = call(&router, apigw("GET", "/v1/items/x", Some(&a), None)).await;
        assert_eq!(status, 404, "{body}");
    }
    let response = handle(&router, apigw("GET", "/v1/items/x", Some(&a), None)).await;
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    let (status, _) = call(&router, apigw("GET", "/v1/items/x", Some(&b), None)).await;
    assert_eq!(status, 404, "tenant B is served");
    let (status, _) = call(&router, apigw("GET", "/v1/items/x", Some("crm_nope"), None)).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_api_function_authenticates_from_dynamodb() {
    use crm_aws::DynamoApiKeys;
    use crm_aws::api_keys::ensure_keys_table;
    // Clients as the function builds them (from the environment), counting
    // their requests.
    let counter = crm_aws::RequestCounter::new();
    let config = crm_aws::testing::base_config().unwrap();
    let client = config.clients(&counter).await.dynamodb;
    let table = crm_aws::testing::unique_name("api-keys");
    ensure_keys_table(&client, &table)
        .await
        .unwrap_or_else(|e| panic!("needs LocalStack (AWS_ENDPOINT_URL): {e}"));
    let keys = DynamoApiKeys::new(client.clone(), table.clone());
    let key = stored_key(&keys, T).await;
    let rt = MemRuntime::new(at(MONDAY_1144_MSK));
    let router = app_on_store(
        Arc::new(rt.engine.clone()),
        Arc::new(keys.clone()),
        ApiSettings::default(),
    );
    for put in crm_core::testing::company() {
        let path = put.path();
        let (status, body) = call(&router, apigw("PUT", &path, Some(&key), Some(put.body))).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let (status, _) = call(
        &router,
        apigw("GET", "/v1/pipelines/deals", Some("crm_wrong"), None),
    )
    .await;
    assert_eq!(status, 401);
    // A warm instance reads each key once per cache TTL, not per request.
    let before = counter.calls();
    for _ in 0..20 {
        let path = "/v1/pipelines/deals";
        let (status, _) = call(&router, apigw("GET", path, Some(&key), None)).await;
        assert_eq!(status, 200);
    }
    assert_eq!(
        counter.calls(),
        before,
        "no DynamoDB request for cached keys"
    );
    eprintln!(
        "keys table requests after {} API calls: {before:?}",
        20 + crm_core::testing::company().len() + 1
    );
    // Revoked in the table: this warm instance still has it cached (≤ 30 s);
    // a new instance (cold start, empty cache) refuses it.
    let id = keys.list(&Default::default()).await.unwrap()[0].id.clone();
    keys.revoke(&id, chrono::Utc::now()).await.unwrap();
    let (status, _) = call(
        &router,
        apigw("GET", "/v1/pipelines/deals", Some(&key), None),
    )
    .await;
    assert_eq!(status, 200, "cached");
    let cold = app_on_store(
        Arc::new(rt.engine.clone()),
        Arc::new(keys),
        ApiSettings::default(),
    );
    let (status, _) = call(&cold, apigw("GET", "/v1/pipelines/deals", Some(&key), None)).await;
    assert_eq!(status, 401);
    client
        .delete_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
}
