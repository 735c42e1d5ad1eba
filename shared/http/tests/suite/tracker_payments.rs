//! The site tracker (`/t/v`) and Stripe payment webhooks (issue #15) on the
//! memory runtime.

use crate::common;

use axum::body::Body;
use chrono::Duration;
use common::*;
use crm_core::payments::stripe_signature::sign_stripe;
use crm_core::ports::Clock;
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};

const VISITOR: &str = "0123456789abcdef0123456789abcdef";

async fn raw(h: &Harness, request: Request<Body>) -> (StatusCode, http::HeaderMap, String) {
    h.send_text(request).await
}

async fn beacon(h: &Harness, body: Value) -> (StatusCode, String) {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/t/v")
        .header("content-type", "text/plain;charset=UTF-8")
        .header("x-forwarded-for", "203.0.113.9")
        .body(Body::from(body.to_string()))
        .unwrap();
    let (s, _, t) = raw(h, request).await;
    (s, t)
}

async fn add_trigger(h: &Harness, stage: &str, kind: &str) {
    let mut t = trigger();
    t["stage_id"] = json!(stage);
    t["type"] = json!(kind);
    t["allow_backwards"] = json!(true);
    let r = h.post(KEY_A, "/v1/pipelines/sales/triggers", t).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

async fn stage_of(h: &Harness, id: &str) -> String {
    h.get(KEY_A, &format!("/v1/items/{id}")).await.body["stage_id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn site_key(h: &Harness) -> String {
    let r = h
        .post(KEY_A, "/v1/site-keys", json!({"label": "shop"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(
        r.body["script_tag"]
            .as_str()
            .unwrap()
            .contains("/t/tracker.js")
    );
    r.body["id"].as_str().unwrap().to_string()
}

/// A form tying `VISITOR` to the deal's client (buyer@acme.test).
async fn tie_visitor(h: &Harness) {
    let form = json!({
        "name": "Contact", "pipeline_id": "sales", "responsible_id": "u-anna",
        "fields": [{"name": "email", "label": "E-mail", "type": "email", "maps_to": "client.email"}]
    });
    let r = h.post(KEY_A, "/v1/forms", form).await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/f/{id}?crm_v={VISITOR}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("email=buyer%40acme.test"))
        .unwrap();
    assert_eq!(raw(h, request).await.0, StatusCode::CREATED);
    h.settle().await;
}

#[tokio::test]
async fn site_keys_are_made_listed_and_deleted_by_admins_per_tenant() {
    let h = harness();
    let key = site_key(&h).await;
    assert!(key.starts_with("sk_") && key.len() == 35);
    let r = h.get(KEY_A, "/v1/site-keys").await;
    assert_eq!(r.body["site_keys"][0]["id"], key);
    assert_eq!(
        h.get(KEY_B, "/v1/site-keys").await.body["site_keys"],
        json!([])
    );
    assert_eq!(
        h.delete(KEY_B, &format!("/v1/site-keys/{key}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = h
        .post(KEY_A, "/v1/site-keys", json!({"label": "x".repeat(201)}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.fields(), ["label"]);
    assert_eq!(
        h.delete(KEY_A, &format!("/v1/site-keys/{key}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let (s, _) = beacon(
        &h,
        json!({"site_key": key, "visitor_id": VISITOR, "url": "https://shop.test/"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a deleted key is refused");
}

#[tokio::test]
async fn the_tracker_script_is_served() {
    let h = harness();
    let (s, headers, text) = raw(
        &h,
        Request::builder()
            .uri("/t/tracker.js")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    for needle in [
        "sendBeacon",
        "/t/v",
        "data-site-key",
        "crm_v",
        "localStorage",
    ] {
        assert!(text.contains(needle), "{needle}");
    }
}

#[tokio::test]
async fn a_known_visitor_moves_the_deal_with_site_visit_and_later_client_returned() {
    let h = harness();
    h.seed(KEY_A).await;
    let deal = h.create_item(KEY_A).await;
    let deal = deal["id"].as_str().unwrap().to_string();
    add_trigger(&h, "talks", "site_visit").await;
    add_trigger(&h, "new", "client_returned").await;
    let key = site_key(&h).await;
    let view = json!({"site_key": key, "visitor_id": VISITOR, "url": "https://shop.test/pricing", "referrer": null});
    // Anonymous: recorded, nothing raised.
    assert_eq!(beacon(&h, view.clone()).await.0, StatusCode::NO_CONTENT);
    h.settle().await;
    assert_eq!(stage_of(&h, &deal).await, "new");
    tie_visitor(&h).await;
    assert_eq!(
        stage_of(&h, &deal).await,
        "new",
        "the form itself moves nothing here"
    );
    // A page view of the tied visitor: site_visit moves the deal to talks.
    h.advance(Duration::minutes(5)).await;
    assert_eq!(beacon(&h, view.clone()).await.0, StatusCode::NO_CONTENT);
    h.settle().await;
    assert_eq!(stage_of(&h, &deal).await, "talks");
    let runs = h.get(KEY_A, &format!("/v1/items/{deal}/runs")).await;
    assert!(
        runs.body["runs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["event_type"] == "site_visit"),
        "{}",
        runs.body
    );
    // 10 minutes later: not a return.
    h.advance(Duration::minutes(10)).await;
    beacon(&h, view.clone()).await;
    h.settle().await;
    assert_eq!(stage_of(&h, &deal).await, "talks");
    // 31 minutes after the last view: client_returned moves it back to new.
    h.advance(Duration::minutes(31)).await;
    beacon(&h, view.clone()).await;
    h.settle().await;
    assert_eq!(stage_of(&h, &deal).await, "new");
}

#[tokio::test]
async fn forged_or_bad_beacons_change_nothing() {
    let h = harness();
    h.seed(KEY_A).await;
    let deal = h.create_item(KEY_A).await;
    let deal = deal["id"].as_str().unwrap().to_string();
    add_trigger(&h, "talks", "site_visit").await;
    let key = site_key(&h).await;
    tie_visitor(&h).await;
    let forged = "sk_00000000000000000000000000000000";
    let (s, text) = beacon(
        &h,
        json!({"site_key": forged, "visitor_id": VISITOR, "url": "https://shop.test/"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(!text.contains("tenant"));
    let (s, text) = beacon(
        &h,
        json!({"site_key": key, "visitor_id": "short", "url": "https://shop.test/"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    let (s, _) = beacon(
        &h,
        json!({"site_key": key, "visitor_id": VISITOR, "url": "javascript:alert(1)"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    h.settle().await;
    assert_eq!(stage_of(&h, &deal).await, "new");
}

// ------------------------------------------------------------------ payments

const SECRET: &str = "whsec_test_0123456789";

async fn configure_stripe(h: &Harness) -> String {
    let r = h
        .put(
            KEY_A,
            "/v1/payment-providers/stripe",
            json!({"webhook_secret": SECRET}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.get("webhook_secret").is_none(),
        "the secret is never shown"
    );
    r.body["webhook_path"].as_str().unwrap().to_string()
}

fn paid_event(id: &str, item: &str) -> Vec<u8> {
    json!({
        "id": id,
        "object": "event",
        "type": "checkout.session.completed",
        "data": {"object": {
            "id": "cs_test_1", "object": "checkout.session",
            "amount_total": 1500050, "currency": "rub", "payment_status": "paid",
            "metadata": {"crm_item_id": item}
        }}
    })
    .to_string()
    .into_bytes()
}

async fn deliver(
    h: &Harness,
    path: &str,
    body: &[u8],
    signature: Option<String>,
) -> (StatusCode, String) {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/json; charset=utf-8");
    if let Some(s) = signature {
        b = b.header("stripe-signature", s);
    }
    let (s, _, t) = raw(h, b.body(Body::from(body.to_vec())).unwrap()).await;
    (s, t)
}

#[tokio::test]
async fn a_signed_stripe_webhook_moves_the_deal_once_with_invoice_paid() {
    let h = harness();
    h.seed(KEY_A).await;
    let deal = h.create_item(KEY_A).await;
    let deal = deal["id"].as_str().unwrap().to_string();
    let mut t = trigger();
    t["stage_id"] = json!("won");
    t["type"] = json!("invoice_paid");
    let r = h.post(KEY_A, "/v1/pipelines/sales/triggers", t).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let path = configure_stripe(&h).await;
    assert!(
        path.starts_with("/v1/webhooks/payments/stripe/pe_"),
        "{path}"
    );
    // Replacing the secret keeps the URL.
    let again = h
        .put(
            KEY_A,
            "/v1/payment-providers/stripe",
            json!({"webhook_secret": SECRET}),
        )
        .await;
    assert_eq!(again.body["webhook_path"], path);
    let body = paid_event("evt_1", &deal);
    let now = h.clock.now().timestamp();
    let (s, text) = deliver(&h, &path, &body, Some(sign_stripe(&body, SECRET, now))).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert!(text.contains("\"raised\""), "{text}");
    h.settle().await;
    assert_eq!(stage_of(&h, &deal).await, "won");
    // The run log has the payment's data.
    let runs = h.get(KEY_A, &format!("/v1/items/{deal}/runs")).await;
    let evals: Vec<&Value> = runs.body["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["event_type"] == "invoice_paid")
        .collect();
    assert_eq!(evals.len(), 1);
    // A re-delivery (new signature, same event id) fires nothing more.
    h.patch(
        KEY_A,
        &format!("/v1/items/{deal}"),
        json!({"stage_id": "talks"}),
        None,
    )
    .await;
    let (s, _) = deliver(&h, &path, &body, Some(sign_stripe(&body, SECRET, now + 10))).await;
    assert_eq!(s, StatusCode::OK);
    h.settle().await;
    assert_eq!(stage_of(&h, &deal).await, "talks", "a replay fires once");
}

#[tokio::test]
async fn forged_stale_and_unknown_webhooks_are_refused_without_side_effects() {
    let h = harness();
    h.seed(KEY_A).await;
    let deal = h.create_item(KEY_A).await;
    let deal = deal["id"].as_str().unwrap().to_string();
    let mut t = trigger();
    t["stage_id"] = json!("won");
    t["type"] = json!("invoice_paid");
    h.post(KEY_A, "/v1/pipelines/sales/triggers", t).await;
    let path = configure_stripe(&h).await;
    let body = paid_event("evt_2", &deal);
    let now = h.clock.now().timestamp();
    for (what, signature) in [
        (
            "wrong secret",
            Some(sign_stripe(&body, "whsec_forged", now)),
        ),
        ("stale", Some(sign_stripe(&body, SECRET, now - 301))),
        (
            "from the future",
            Some(sign_stripe(&body, SECRET, now + 301)),
        ),
        ("missing", None),
        ("garbage", Some("v1=zz".to_string())),
    ] {
        let (s, text) = deliver(&h, &path, &body, signature).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{what}: {text}");
    }
    // Signed for another body.
    let other = paid_event("evt_3", &deal);
    let (s, _) = deliver(&h, &path, &body, Some(sign_stripe(&other, SECRET, now))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Unknown endpoint, another tenant's look-alike: 403 too.
    let unknown = "/v1/webhooks/payments/stripe/pe_00000000000000000000000000000000";
    let (s, _) = deliver(&h, unknown, &body, Some(sign_stripe(&body, SECRET, now))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = deliver(&h, "/v1/webhooks/payments/paypal/x", &body, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    h.settle().await;
    assert_eq!(stage_of(&h, &deal).await, "new");
    let runs = h.get(KEY_A, &format!("/v1/items/{deal}/runs")).await;
    assert!(
        !runs.body["runs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["event_type"] == "invoice_paid"),
        "{}",
        runs.body
    );
    // Deleting the configuration closes the URL.
    assert_eq!(
        h.delete(KEY_A, "/v1/payment-providers/stripe").await.status,
        StatusCode::NO_CONTENT
    );
    let (s, _) = deliver(&h, &path, &body, Some(sign_stripe(&body, SECRET, now))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        h.get(KEY_A, "/v1/payment-providers/stripe").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn other_events_and_unknown_items_are_acknowledged_and_ignored() {
    let h = harness();
    h.seed(KEY_A).await;
    let path = configure_stripe(&h).await;
    let now = h.clock.now().timestamp();
    let other = json!({"id": "evt_9", "type": "customer.created", "data": {"object": {}}})
        .to_string()
        .into_bytes();
    let (s, text) = deliver(&h, &path, &other, Some(sign_stripe(&other, SECRET, now))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(text.contains("ignored"), "{text}");
    let body = paid_event("evt_10", "item-nope");
    let (s, text) = deliver(&h, &path, &body, Some(sign_stripe(&body, SECRET, now))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(text.contains("ignored"), "{text}");
    let junk = b"not json".to_vec();
    let (s, _) = deliver(&h, &path, &junk, Some(sign_stripe(&junk, SECRET, now))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Configuration: admin only, validated, per tenant.
    let r = h
        .put(
            KEY_A,
            "/v1/payment-providers/stripe",
            json!({"webhook_secret": ""}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.fields(), ["webhook_secret"]);
    assert_eq!(
        h.get(KEY_B, "/v1/payment-providers/stripe").await.status,
        StatusCode::NOT_FOUND
    );
    let r = h
        .put(
            KEY_A,
            "/v1/payment-providers/paypal",
            json!({"webhook_secret": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
