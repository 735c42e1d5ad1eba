//! The Bitrix24 REST adapter (issue #16) through the router: credentials,
//! the three parameter encodings, the envelope, errors, idempotency, the
//! rate limit and "a trigger moves the deal".

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use common::*;
use crm_http::{ManualTicker, TenantThrottle, ThrottleConfig};
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};

/// Makes a credential acting as `u-anna` and returns its URL prefix.
async fn credential(h: &Harness, key: &str) -> (String, Value) {
    let r = h
        .post(
            key,
            "/v1/rest-webhooks",
            json!({"user_id": "u-anna", "label": "site forms"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let url = r.body["url"].as_str().unwrap().to_string();
    assert_eq!(
        url,
        format!(
            "/rest/{}/{}/",
            r.body["id"].as_str().unwrap(),
            r.body["secret"].as_str().unwrap()
        )
    );
    (url, r.body)
}

/// The `sales` pipeline with a `webhook` trigger `paid` into `talks`, one
/// deal in `new`, and a credential.
async fn setup(h: &Harness) -> (String, String) {
    h.seed(KEY_A).await;
    let t = json!({"stage_id": "talks", "type": "webhook", "name": "Paid",
        "condition": null, "allow_backwards": false, "settings": {"code": "paid"}});
    let r = h.post(KEY_A, "/v1/pipelines/sales/triggers", t).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let item = h.create_item(KEY_A).await;
    let (url, _) = credential(h, KEY_A).await;
    (url, item["id"].as_str().unwrap().to_string())
}

async fn stage(h: &Harness, id: &str) -> String {
    let r = h.get(KEY_A, &format!("/v1/items/{id}")).await;
    r.body["stage_id"].as_str().unwrap().to_string()
}

async fn bitrix(h: &Harness, method: Method, uri: &str, ct: Option<&str>, body: &str) -> Reply {
    bitrix_with(h, method, uri, ct, body, &[]).await
}

async fn bitrix_with(
    h: &Harness,
    method: Method,
    uri: &str,
    ct: Option<&str>,
    body: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(ct) = ct {
        b = b.header("content-type", ct);
    }
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    h.send(b.body(Body::from(body.to_string())).unwrap()).await
}

fn assert_envelope(r: &Reply, result: Value) {
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["result"], result, "{}", r.body);
    let t = &r.body["time"];
    for k in ["start", "finish", "duration", "processing"] {
        assert!(t[k].is_number(), "time.{k} in {}", r.body);
    }
    for k in ["date_start", "date_finish"] {
        assert!(
            chrono::DateTime::parse_from_rfc3339(t[k].as_str().unwrap()).is_ok(),
            "time.{k} in {}",
            r.body
        );
    }
    assert!(t["finish"].as_f64() >= t["start"].as_f64());
    // The engine's (manual) clock, not the machine's.
    let start = crate::common::start().timestamp() as f64;
    let at = t["start"].as_f64().unwrap();
    assert!(
        at >= start && at < start + 30.0 * 86_400.0,
        "time.start {at} is not the engine clock's (from {start}): {}",
        r.body
    );
}

fn assert_error(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.body["error"], code, "{}", r.body);
    assert!(
        r.body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn json_post_with_json_suffix_and_any_case_moves_the_deal() {
    let h = harness();
    let (url, id) = setup(&h).await;
    let r = bitrix(
        &h,
        Method::POST,
        &format!("{url}CRM.Automation.Trigger.json"),
        Some("application/json"),
        &json!({"TARGET": format!("DEAL_{id}"), "Code": "paid", "bx24_request_id": "x"})
            .to_string(),
    )
    .await;
    assert_envelope(&r, json!(true));
    assert_eq!(stage(&h, &id).await, "new", "queued, not yet evaluated");
    h.settle().await;
    assert_eq!(stage(&h, &id).await, "talks");
}

#[tokio::test]
async fn the_incoming_webhook_get_url_with_a_trailing_slash_moves_the_deal() {
    let h = harness();
    let (url, id) = setup(&h).await;
    let r = bitrix(
        &h,
        Method::GET,
        &format!("{url}crm.automation.trigger/?target=DEAL_{id}&code=paid&bx24_request_id=9"),
        None,
        "",
    )
    .await;
    assert_envelope(&r, json!(true));
    h.settle().await;
    assert_eq!(stage(&h, &id).await, "talks");
}

#[tokio::test]
async fn php_style_form_bodies_register_and_execute_a_trigger_code() {
    let h = harness();
    let (url, id) = setup(&h).await;
    let form = Some("application/x-www-form-urlencoded");
    let r = bitrix(
        &h,
        Method::POST,
        &format!("{url}crm.automation.trigger.add"),
        form,
        "CODE=paid&NAME=Payment%20received",
    )
    .await;
    assert_envelope(&r, json!(true));
    let r = bitrix(
        &h,
        Method::POST,
        &format!("{url}crm.automation.trigger.execute.json"),
        form,
        &format!("code=paid&OWNER_TYPE_ID=2&owner_id={id}&extra[a][b]=1"),
    )
    .await;
    assert_envelope(&r, json!(true));
    h.settle().await;
    assert_eq!(stage(&h, &id).await, "talks");
    // Executing again answers true though nothing moves (the deal is there).
    let r = bitrix(
        &h,
        Method::POST,
        &format!("{url}crm.automation.trigger.execute"),
        form,
        &format!("CODE=paid&OWNER_TYPE_ID=2&OWNER_ID={id}"),
    )
    .await;
    assert_envelope(&r, json!(true));
    h.settle().await;
    assert_eq!(stage(&h, &id).await, "talks");
}

#[tokio::test]
async fn trigger_codes_are_added_upserted_listed_and_deleted() {
    let h = harness();
    let (url, _) = setup(&h).await;
    let call = |m: &str, body: Value| {
        let uri = format!("{url}{m}");
        let h = &h;
        async move {
            bitrix(
                h,
                Method::POST,
                &uri,
                Some("application/json"),
                &body.to_string(),
            )
            .await
        }
    };
    assert_envelope(
        &call(
            "crm.automation.trigger.add",
            json!({"CODE": "b.code", "NAME": "B"}),
        )
        .await,
        json!(true),
    );
    assert_envelope(
        &call(
            "crm.automation.trigger.add",
            json!({"code": "a-code", "name": "A"}),
        )
        .await,
        json!(true),
    );
    assert_envelope(
        &call(
            "crm.automation.trigger.add",
            json!({"CODE": "a-code", "NAME": "A renamed"}),
        )
        .await,
        json!(true),
    );
    assert_envelope(
        &call("crm.automation.trigger.list", json!({})).await,
        json!([{"NAME": "A renamed", "CODE": "a-code"}, {"NAME": "B", "CODE": "b.code"}]),
    );
    assert_envelope(
        &call("crm.automation.trigger.delete", json!({"CODE": "b.code"})).await,
        json!(true),
    );
    assert_error(
        &call("crm.automation.trigger.delete", json!({"CODE": "b.code"})).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert_envelope(
        &call("crm.automation.trigger.list", json!({})).await,
        json!([{"NAME": "A renamed", "CODE": "a-code"}]),
    );
    // Bad codes and missing parameters change nothing.
    assert_error(
        &call(
            "crm.automation.trigger.add",
            json!({"CODE": "Bad Code", "NAME": "x"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "INVALID_ARG_VALUE",
    );
    assert_error(
        &call("crm.automation.trigger.add", json!({"CODE": "ok"})).await,
        StatusCode::BAD_REQUEST,
        "ERROR_ARGUMENT",
    );
    assert_envelope(
        &call("crm.automation.trigger.list", json!({})).await,
        json!([{"NAME": "A renamed", "CODE": "a-code"}]),
    );
}

#[tokio::test]
async fn errors_answer_in_the_bitrix_shape_with_the_statuses_the_sdks_map() {
    let h = harness();
    let (url, id) = setup(&h).await;
    let json_ct = Some("application/json");
    let post = |m: String, body: Value| {
        let h = &h;
        async move { bitrix(h, Method::POST, &m, json_ct, &body.to_string()).await }
    };
    assert_error(
        &post(format!("{url}crm.automation.trigger"), json!({})).await,
        StatusCode::BAD_REQUEST,
        "ERROR_ARGUMENT",
    );
    assert_error(
        &post(
            format!("{url}crm.automation.trigger"),
            json!({"target": "CONTACT_5"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "INVALID_ARG_VALUE",
    );
    // The deal is not a lead: the entity type must match.
    assert_error(
        &post(
            format!("{url}crm.automation.trigger"),
            json!({"target": format!("LEAD_{id}")}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert_error(
        &post(
            format!("{url}crm.automation.trigger"),
            json!({"target": "DEAL_999999"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert_error(
        &post(
            format!("{url}crm.automation.trigger.execute"),
            json!({"CODE": "nope", "OWNER_TYPE_ID": 2, "OWNER_ID": id}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert_error(
        &post(
            format!("{url}crm.automation.trigger.execute"),
            json!({"CODE": "nope", "OWNER_TYPE_ID": "x", "OWNER_ID": id}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "INVALID_ARG_VALUE",
    );
    assert_error(
        &post(
            format!("{url}crm.automation.trigger.execute"),
            json!({"CODE": "nope", "OWNER_TYPE_ID": 3, "OWNER_ID": id}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "INVALID_ARG_VALUE",
    );
    assert_error(
        &post(format!("{url}crm.deal.list"), json!({})).await,
        StatusCode::NOT_FOUND,
        "ERROR_METHOD_NOT_FOUND",
    );
    assert_error(
        &bitrix(
            &h,
            Method::POST,
            &format!("{url}crm.automation.trigger"),
            json_ct,
            "{not json",
        )
        .await,
        StatusCode::BAD_REQUEST,
        "INVALID_ARG_VALUE",
    );
    // A wrong secret, a right secret under another number, an unknown number: all 401 invalid_token.
    let parts: Vec<&str> = url.trim_matches('/').split('/').collect();
    let (n, secret) = (parts[1], parts[2]);
    for bad in [
        format!("/rest/{n}/wrong/crm.automation.trigger.list"),
        format!(
            "/rest/{}/{secret}/crm.automation.trigger.list",
            n.parse::<u64>().unwrap() + 1
        ),
        format!("/rest/x/{secret}/crm.automation.trigger.list"),
    ] {
        assert_error(
            &post(bad, json!({})).await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        );
    }
    h.settle().await;
    assert_eq!(stage(&h, &id).await, "new", "no failed call moved the deal");
}

#[tokio::test]
async fn a_revoked_credential_answers_invalid_token_and_tenants_are_apart() {
    let h = harness();
    let (url, _) = setup(&h).await;
    let list_uri = format!("{url}crm.automation.trigger.list");
    assert_envelope(
        &bitrix(&h, Method::GET, &list_uri, None, "").await,
        json!([]),
    );
    let r = h.get(KEY_A, "/v1/rest-webhooks").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["webhooks"].as_array().unwrap().len(), 1);
    assert!(
        !r.raw.windows(4).any(|w| w == b"b24_"),
        "no secret listed: {}",
        r.body
    );
    assert_eq!(r.body["webhooks"][0]["user_id"], "u-anna");
    let id = url.split('/').nth(2).unwrap();
    // Another tenant cannot see or revoke it.
    assert_eq!(
        h.delete(KEY_B, &format!("/v1/rest-webhooks/{id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.get(KEY_B, "/v1/rest-webhooks").await.body["webhooks"],
        json!([])
    );
    assert_envelope(
        &bitrix(&h, Method::GET, &list_uri, None, "").await,
        json!([]),
    );
    let r = h.delete(KEY_A, &format!("/v1/rest-webhooks/{id}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_error(
        &bitrix(&h, Method::GET, &list_uri, None, "").await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    );
    let r = h.get(KEY_A, "/v1/rest-webhooks").await;
    assert!(
        r.body["webhooks"][0]["revoked_at"].is_string(),
        "{}",
        r.body
    );
    // Revoking twice is fine; an unknown id is 404.
    assert_eq!(
        h.delete(KEY_A, &format!("/v1/rest-webhooks/{id}"))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        h.delete(KEY_A, "/v1/rest-webhooks/77").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn credentials_need_a_known_user_and_a_label_and_are_numbered_per_tenant() {
    let h = harness();
    h.seed(KEY_A).await;
    h.seed(KEY_B).await;
    let r = h
        .post(
            KEY_A,
            "/v1/rest-webhooks",
            json!({"user_id": "u-nobody", "label": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.fields(), vec!["user_id"]);
    let r = h
        .post(
            KEY_A,
            "/v1/rest-webhooks",
            json!({"user_id": "u-anna", "label": " "}),
        )
        .await;
    assert_eq!(r.fields(), vec!["label"]);
    let (_, a1) = credential(&h, KEY_A).await;
    let (_, a2) = credential(&h, KEY_A).await;
    let (_, b1) = credential(&h, KEY_B).await;
    assert_eq!(
        (a1["id"].as_str(), a2["id"].as_str(), b1["id"].as_str()),
        (Some("1"), Some("2"), Some("1"))
    );
    assert_ne!(a1["secret"], b1["secret"]);
    let r = h.get(KEY_A, "/v1/rest-webhooks?limit=1").await;
    assert_eq!(r.body["webhooks"][0]["id"], "1");
    let cursor = r.body["next_cursor"].as_str().unwrap();
    let r = h
        .get(KEY_A, &format!("/v1/rest-webhooks?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(r.body["webhooks"][0]["id"], "2");
    assert!(r.body["next_cursor"].is_null());
}

#[tokio::test]
async fn the_same_idempotency_key_queues_the_event_once() {
    let h = harness();
    let (url, id) = setup(&h).await;
    let uri = format!("{url}crm.automation.trigger");
    let body = json!({"target": format!("DEAL_{id}"), "code": "paid"}).to_string();
    let key = [("idempotency-key", "pay-42")];
    let r = bitrix_with(
        &h,
        Method::POST,
        &uri,
        Some("application/json"),
        &body,
        &key,
    )
    .await;
    assert_envelope(&r, json!(true));
    h.settle().await;
    assert_eq!(stage(&h, &id).await, "talks");
    let r = h
        .patch(
            KEY_A,
            &format!("/v1/items/{id}"),
            json!({"stage_id": "new"}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    h.settle().await;
    let r = bitrix_with(
        &h,
        Method::POST,
        &uri,
        Some("application/json"),
        &body,
        &key,
    )
    .await;
    assert_envelope(&r, json!(true));
    h.settle().await;
    assert_eq!(
        stage(&h, &id).await,
        "new",
        "the repeated call was applied once"
    );
    // Another key is another event.
    let r = bitrix_with(
        &h,
        Method::POST,
        &uri,
        Some("application/json"),
        &body,
        &[("idempotency-key", "pay-43")],
    )
    .await;
    assert_envelope(&r, json!(true));
    h.settle().await;
    assert_eq!(stage(&h, &id).await, "talks");
}

#[tokio::test]
async fn over_the_rate_a_call_gets_503_query_limit_exceeded_and_later_succeeds() {
    let ticker = Arc::new(ManualTicker::new());
    let throttle =
        TenantThrottle::with_ticker(ThrottleConfig { rate: 2, burst: 4 }, ticker.clone());
    let h = harness_with(|s| s.with_throttle(throttle));
    let r = h
        .put(KEY_A, "/v1/users/u-anna", json!({"name": "Anna"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let (url, _) = credential(&h, KEY_A).await;
    let uri = format!("{url}crm.automation.trigger.list");
    for _ in 0..2 {
        assert_envelope(&bitrix(&h, Method::GET, &uri, None, "").await, json!([]));
    }
    assert_error(
        &bitrix(&h, Method::GET, &uri, None, "").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "QUERY_LIMIT_EXCEEDED",
    );
    ticker.advance(Duration::from_secs(1));
    assert_envelope(&bitrix(&h, Method::GET, &uri, None, "").await, json!([]));
}

#[tokio::test]
async fn a_member_key_cannot_make_credentials() {
    let store = Arc::new(crm_core::api_keys::MemApiKeys::new());
    let member = crm_core::api_keys::NewKey::generate("tenant-a", "m", chrono::Utc::now())
        .unwrap()
        .with_role(crm_core::api_keys::Role::Member);
    use crm_core::api_keys::ApiKeyStore as _;
    store.add(&member.record).await.unwrap();
    let h2 = harness_with(|s| {
        s.with_key_store(crm_http::CachedKeys::new(
            store,
            crm_http::KeyCacheConfig::default(),
        ))
    });
    let r = h2
        .post(
            &member.secret,
            "/v1/rest-webhooks",
            json!({"user_id": "u-anna", "label": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
}

#[tokio::test]
async fn numeric_bitrix_ids_name_items_by_their_external_id() {
    let h = harness();
    let (url, id) = setup(&h).await;
    let r = h
        .patch(
            KEY_A,
            &format!("/v1/items/{id}"),
            json!({"external_id": "57"}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["external_id"], "57");
    // Unique per entity type.
    let mut other = item();
    other["external_id"] = json!("57");
    let r = h.post(KEY_A, "/v1/items", other.clone()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.fields(), vec!["external_id"]);
    other["external_id"] = json!(" 58");
    assert_eq!(
        h.post(KEY_A, "/v1/items", other.clone()).await.fields(),
        vec!["external_id"]
    );
    let json_ct = Some("application/json");
    let add = json!({"CODE": "paid", "NAME": "Paid"}).to_string();
    assert_envelope(
        &bitrix(
            &h,
            Method::POST,
            &format!("{url}crm.automation.trigger.add"),
            json_ct,
            &add,
        )
        .await,
        json!(true),
    );
    // A lead with number 57 does not exist; the deal does.
    let r = bitrix(
        &h,
        Method::POST,
        &format!("{url}crm.automation.trigger.execute"),
        json_ct,
        r#"{"CODE":"paid","OWNER_TYPE_ID":1,"OWNER_ID":57}"#,
    )
    .await;
    assert_error(&r, StatusCode::NOT_FOUND, "NOT_FOUND");
    let r = bitrix(
        &h,
        Method::POST,
        &format!("{url}crm.automation.trigger.execute"),
        json_ct,
        r#"{"CODE":"paid","OWNER_TYPE_ID":2,"OWNER_ID":57}"#,
    )
    .await;
    assert_envelope(&r, json!(true));
    h.settle().await;
    assert_eq!(stage(&h, &id).await, "talks");
    // Renaming frees the old number; "" removes it.
    let r = h
        .patch(
            KEY_A,
            &format!("/v1/items/{id}"),
            json!({"external_id": "58"}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    other["external_id"] = json!("57");
    let r = h.post(KEY_A, "/v1/items", other).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = h
        .patch(
            KEY_A,
            &format!("/v1/items/{id}"),
            json!({"external_id": ""}),
            None,
        )
        .await;
    assert!(r.body.get("external_id").is_none(), "{}", r.body);
    let r = bitrix(
        &h,
        Method::POST,
        &format!("{url}crm.automation.trigger"),
        json_ct,
        r#"{"target":"DEAL_58"}"#,
    )
    .await;
    assert_error(&r, StatusCode::NOT_FOUND, "NOT_FOUND");
}
