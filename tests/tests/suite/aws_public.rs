//! The public sources of issue #15 on the AWS home (LocalStack: DynamoDB +
//! SQS), through the api Lambda (API Gateway HTTP API events) and the real
//! stage-change, trigger-eval and robot-runner handlers: a web form post
//! creates a lead whose robot runs, posts are limited per source address,
//! and a signed Stripe webhook moves a deal with `invoice_paid`.

use crm_core::payments::stripe_signature::sign_stripe;
use crm_core::ports::Clock;
use crm_core::testing::{MONDAY_1144_MSK, at};
use crm_tests::aws_rig::AwsRig;
use http_body_util::BodyExt;
use serde_json::{Value, json};

/// One API Gateway (payload 2.0) request through the api Lambda.
async fn call(
    router: &axum::Router,
    method: &str,
    path: &str,
    headers: Value,
    body: Option<String>,
    source_ip: &str,
) -> (u16, Value) {
    let mut h = json!({"host": "abc123.execute-api.us-east-1.amazonaws.com"});
    for (k, v) in headers.as_object().unwrap() {
        h[k] = v.clone();
    }
    let mut event = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": h,
        "requestContext": {"accountId": "123456789012", "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com", "domainPrefix": "abc123",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": source_ip, "userAgent": "test"},
            "requestId": "req", "routeKey": "$default", "stage": "$default",
            "time": "23/Nov/2026:08:44:00 +0000", "timeEpoch": 1_763_887_440_000_i64},
        "isBase64Encoded": false
    });
    if let Some(b) = body {
        event["body"] = json!(b);
    }
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let response = crm_fn_api::handle(router, request).await;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn api(router: &axum::Router, key: &str, method: &str, path: &str, b: Value) -> Value {
    let (status, body) = call(
        router,
        method,
        path,
        json!({"content-type": "application/json", "authorization": format!("Bearer {key}")}),
        Some(b.to_string()),
        "198.51.100.1",
    )
    .await;
    assert!(status < 300, "{method} {path}: {status} {body}");
    body
}

async fn get(router: &axum::Router, key: &str, path: &str) -> Value {
    let (status, body) = call(
        router,
        "GET",
        path,
        json!({"authorization": format!("Bearer {key}")}),
        None,
        "198.51.100.1",
    )
    .await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

#[tokio::test]
async fn a_form_post_and_a_stripe_webhook_work_through_the_api_function() {
    let rig = AwsRig::new("public", at(MONDAY_1144_MSK)).await;
    let t = rig.tenant.clone();
    let key = format!("key-{t}");
    let router = crm_fn_api::app(
        std::sync::Arc::new(rig.engine.clone()),
        crm_http::ApiKeys::single(t.clone(), key.clone()),
    );
    for put in crm_core::testing::company() {
        api(&router, &key, "PUT", &put.path(), put.body).await;
    }
    let robot = api(&router, &key, "POST", "/v1/pipelines/sales/robots",
        json!({"stage_id": "new", "type": "add_timeline_comment", "settings": {"text": "From the site"}})).await;
    api(
        &router,
        &key,
        "POST",
        "/v1/pipelines/sales/triggers",
        json!({"stage_id": "won", "type": "invoice_paid"}),
    )
    .await;
    let form = api(&router, &key, "POST", "/v1/forms", json!({
        "name": "Contact", "pipeline_id": "sales", "responsible_id": "u-anna",
        "fields": [{"name": "email", "label": "E-mail", "type": "email", "required": true, "maps_to": "client.email"}]
    })).await;
    let form_path = format!("/f/{}", form["id"].as_str().unwrap());
    let urlencoded = json!({"content-type": "application/x-www-form-urlencoded"});

    let (status, body) = call(
        &router,
        "POST",
        &form_path,
        urlencoded.clone(),
        Some("email=ann%40example.test".into()),
        "203.0.113.7",
    )
    .await;
    assert_eq!(status, 201, "{body}");
    rig.settle().await;
    let items = get(&router, &key, "/v1/items?pipeline_id=sales").await;
    let items = items["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    let item = items[0]["id"].as_str().unwrap().to_string();
    assert_eq!(items[0]["client"]["email"], "ann@example.test");
    let runs = get(&router, &key, &format!("/v1/items/{item}/runs")).await;
    let run = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["robot_id"] == robot["id"])
        .unwrap_or_else(|| panic!("no robot run: {runs}"))
        .clone();
    assert_eq!(run["status"], "done", "{run}");

    // Limited per source address: 9 more from the same address, then 429;
    // another address is not limited.
    for _ in 0..9 {
        let (s, _) = call(
            &router,
            "POST",
            &form_path,
            urlencoded.clone(),
            Some("email=x%40y.test&website=bot".into()),
            "203.0.113.7",
        )
        .await;
        assert_eq!(s, 201);
    }
    let (s, _) = call(
        &router,
        "POST",
        &form_path,
        urlencoded.clone(),
        Some("email=x%40y.test&website=bot".into()),
        "203.0.113.7",
    )
    .await;
    assert_eq!(s, 429);
    let (s, _) = call(
        &router,
        "POST",
        &form_path,
        urlencoded,
        Some("email=x%40y.test&website=bot".into()),
        "203.0.113.99",
    )
    .await;
    assert_eq!(s, 201);

    // Stripe: the signed webhook moves the deal to won; a forged one is 403.
    let provider = api(
        &router,
        &key,
        "PUT",
        "/v1/payment-providers/stripe",
        json!({"webhook_secret": "whsec_aws"}),
    )
    .await;
    let hook = provider["webhook_path"].as_str().unwrap().to_string();
    let event = json!({"id": "evt_aws_1", "type": "payment_intent.succeeded", "data": {"object": {
        "amount_received": 4200, "currency": "eur", "metadata": {"crm_item_id": item}}}})
    .to_string();
    let now = rig.clock.now().timestamp();
    let forged = sign_stripe(event.as_bytes(), "whsec_other", now);
    let (s, _) = call(
        &router,
        "POST",
        &hook,
        json!({"content-type": "application/json", "stripe-signature": forged}),
        Some(event.clone()),
        "3.18.12.63",
    )
    .await;
    assert_eq!(s, 403);
    rig.settle().await;
    let deal = get(&router, &key, &format!("/v1/items/{item}")).await;
    assert_eq!(deal["stage_id"], "new");
    let signed = sign_stripe(event.as_bytes(), "whsec_aws", now);
    let (s, body) = call(
        &router,
        "POST",
        &hook,
        json!({"content-type": "application/json", "stripe-signature": signed}),
        Some(event),
        "3.18.12.63",
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["outcome"], "raised");
    rig.settle().await;
    let deal = get(&router, &key, &format!("/v1/items/{item}")).await;
    assert_eq!(deal["stage_id"], "won");
    rig.teardown().await;
}
