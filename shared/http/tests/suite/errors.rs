//! Error paths a client notices: auth, isolation, malformed bodies, limits,
//! validation, version conflicts, routing.

use crate::common;

use axum::body::Body;
use common::*;
use http::{Method, Request, StatusCode};
use serde_json::json;

#[tokio::test]
async fn health_needs_no_key() {
    let h = harness();
    let r = h
        .call_with(Method::GET, "/v1/health", None, None, &[])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"status": "ok"}));
}

#[tokio::test]
async fn missing_malformed_or_unknown_key_is_401() {
    let h = harness();
    let no_key = h
        .call_with(Method::GET, "/v1/pipelines/sales", None, None, &[])
        .await;
    let wrong_key = h.get("key-c", "/v1/pipelines/sales").await;
    let prefix_of_key = h.get("key-", "/v1/pipelines/sales").await;
    let basic = h
        .call_with(
            Method::GET,
            "/v1/pipelines/sales",
            None,
            None,
            &[("authorization", "Basic a2V5LWE6")],
        )
        .await;
    for r in [&no_key, &wrong_key, &prefix_of_key, &basic] {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
        assert_eq!(r.error_code(), "unauthorized");
        assert_eq!(r.headers["www-authenticate"], "Bearer");
    }
}

#[tokio::test]
async fn writes_without_a_key_are_401_before_the_body_is_read() {
    let h = harness();
    let r = h
        .call_with(
            Method::POST,
            "/v1/items",
            None,
            None,
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error_code(), "unauthorized");
}

#[tokio::test]
async fn another_tenants_records_are_404_and_indistinguishable() {
    let h = harness();
    // What tenant B sees before anything exists anywhere.
    let before_pipeline = h.get(KEY_B, "/v1/pipelines/sales").await;
    let before_item = h.get(KEY_B, "/v1/items/item-1").await;
    assert_eq!(before_pipeline.status, StatusCode::NOT_FOUND);
    assert_eq!(before_item.status, StatusCode::NOT_FOUND);

    h.seed(KEY_A).await;
    let item = h.create_item(KEY_A).await;
    let id = item["id"].as_str().unwrap();
    assert_eq!(id, "item-1", "SeqIds makes the first item item-1");

    let pipeline = h.get(KEY_B, "/v1/pipelines/sales").await;
    assert_eq!(pipeline.status, StatusCode::NOT_FOUND);
    assert_eq!(pipeline.error_code(), "not_found");
    assert_eq!(
        pipeline.raw, before_pipeline.raw,
        "the body must not reveal it"
    );

    let got = h.get(KEY_B, &format!("/v1/items/{id}")).await;
    assert_eq!(got.status, StatusCode::NOT_FOUND);
    assert_eq!(got.raw, before_item.raw, "the body must not reveal it");
    assert!(!String::from_utf8_lossy(&got.raw).contains("tenant-a"));

    for path in [
        format!("/v1/items/{id}/timeline"),
        format!("/v1/items/{id}/runs"),
        "/v1/pipelines/sales/robots".to_string(),
        "/v1/users/u-anna".to_string(),
        "/v1/departments/sales".to_string(),
    ] {
        let r = h.get(KEY_B, &path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.body);
    }
    let patched = h
        .patch(
            KEY_B,
            &format!("/v1/items/{id}"),
            json!({"title": "mine"}),
            None,
        )
        .await;
    assert_eq!(patched.status, StatusCode::NOT_FOUND);
    let deleted = h.delete(KEY_B, &format!("/v1/items/{id}")).await;
    assert_eq!(deleted.status, StatusCode::NOT_FOUND);

    // Nothing B tried changed A's item.
    let mine = h.get(KEY_A, &format!("/v1/items/{id}")).await;
    assert_eq!(mine.status, StatusCode::OK);
    assert_eq!(mine.body["title"], "10 chairs");
    assert_eq!(mine.body["version"], 1);
}

#[tokio::test]
async fn malformed_json_is_400_naming_the_line() {
    let h = harness();
    h.seed(KEY_A).await;
    let r = h.call_raw(Method::POST, "/v1/items", "{\"title\": ").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.error_code(), "bad_request");
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("line 1"), "{message}");

    let empty = h.call_raw(Method::POST, "/v1/items", "").await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert_eq!(empty.error_code(), "bad_request");

    let trailing = h.call_raw(Method::PUT, "/v1/pipelines/x", "{} {}").await;
    assert_eq!(trailing.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn wrong_types_and_missing_fields_are_400_naming_the_field() {
    let h = harness();
    h.seed(KEY_A).await;

    let mut wrong = item();
    wrong["amount"] = json!("lots");
    let r = h.post(KEY_A, "/v1/items", wrong).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.error_code(), "bad_request");
    assert_eq!(r.fields(), ["amount"]);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("amount")
    );

    let mut missing = item();
    missing.as_object_mut().unwrap().remove("title");
    let r = h.post(KEY_A, "/v1/items", missing).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.fields(), ["title"]);

    let mut nested = pipeline();
    nested["stages"][1]["semantic"] = json!(7);
    let r = h.put(KEY_A, "/v1/pipelines/other", nested).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.fields(), ["stages[1].semantic"], "{}", r.body);

    let mut unknown = robot();
    unknown["colour"] = json!("red");
    let r = h.post(KEY_A, "/v1/pipelines/sales/robots", unknown).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.fields(), ["colour"]);

    let r = h
        .post(
            KEY_A,
            "/v1/pipelines/sales/robots",
            json!(["not", "an", "object"]),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "bad_request");

    // Nothing was created by any of these.
    let robots = h.get(KEY_A, "/v1/pipelines/sales/robots").await;
    assert_eq!(robots.body, json!({"robots": [], "next_cursor": null}));
    let other = h.get(KEY_A, "/v1/pipelines/other").await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_body_without_json_content_type_is_rejected_in_our_shape() {
    let h = harness();
    h.seed(KEY_A).await;
    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1/items")
        .header("authorization", format!("Bearer {KEY_A}"))
        .header("content-type", "text/plain")
        .body(Body::from(serde_json::to_vec(&item()).unwrap()))
        .unwrap();
    let r = h.send(request).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(r.error_code(), "unsupported_media_type");
    assert_eq!(r.fields(), ["Content-Type"]);

    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1/items")
        .header("authorization", format!("Bearer {KEY_A}"))
        .body(Body::from(serde_json::to_vec(&item()).unwrap()))
        .unwrap();
    let r = h.send(request).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(r.error_code(), "unsupported_media_type");
}

/// A valid item whose serialized body is about `size` bytes.
fn item_of_size(size: usize) -> Vec<u8> {
    let mut body = item();
    body["fields"] = json!({"notes": "x".repeat(size)});
    serde_json::to_vec(&body).unwrap()
}

#[tokio::test]
async fn a_300_kib_body_is_413() {
    let h = harness();
    h.seed(KEY_A).await;
    let big = item_of_size(300 * 1024);
    let r = h.call_raw(Method::POST, "/v1/items", big.clone()).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert_eq!(r.error_code(), "payload_too_large");

    // With an honest Content-Length too.
    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1/items")
        .header("authorization", format!("Bearer {KEY_A}"))
        .header("content-type", "application/json")
        .header("content-length", big.len().to_string())
        .body(Body::from(big))
        .unwrap();
    let r = h.send(request).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.error_code(), "payload_too_large");

    // The item was not created.
    let r = h.get(KEY_A, "/v1/items/item-1").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_body_just_under_the_limit_is_read() {
    let h = harness();
    h.seed(KEY_A).await;
    let body = item_of_size(250 * 1024);
    assert!(body.len() < 256 * 1024);
    let r = h.call_raw(Method::POST, "/v1/items", body).await;
    assert_ne!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert_ne!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
}

#[tokio::test]
async fn a_robot_on_an_unknown_stage_is_422_naming_stage_id() {
    let h = harness();
    h.seed(KEY_A).await;
    let mut body = robot();
    body["stage_id"] = json!("nowhere");
    let r = h.post(KEY_A, "/v1/pipelines/sales/robots", body).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.error_code(), "unprocessable");
    assert!(r.fields().contains(&"stage_id".to_string()), "{}", r.body);

    let robots = h.get(KEY_A, "/v1/pipelines/sales/robots").await;
    assert_eq!(robots.body, json!({"robots": [], "next_cursor": null}));
}

#[tokio::test]
async fn an_unknown_placeholder_is_422_naming_the_setting() {
    let h = harness();
    h.seed(KEY_A).await;
    let mut body = robot();
    body["settings"]["text"] = json!("Hello {{nope}}");
    let r = h.post(KEY_A, "/v1/pipelines/sales/robots", body).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.error_code(), "unprocessable");
    assert_eq!(r.fields(), ["settings.text"]);
    assert!(
        r.body["error"]["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nope")
    );
}

#[tokio::test]
async fn a_rejected_update_changes_nothing() {
    let h = harness();
    h.seed(KEY_A).await;
    let created = h.post(KEY_A, "/v1/pipelines/sales/robots", robot()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let path = format!("/v1/pipelines/sales/robots/{id}");
    let before = h.get(KEY_A, &path).await;
    assert_eq!(before.status, StatusCode::OK);

    let mut bad = robot();
    bad["name"] = json!("Renamed");
    bad["settings"]["text"] = json!("{{nope}}");
    let r = h.put(KEY_A, &path, bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);

    let after = h.get(KEY_A, &path).await;
    assert_eq!(after.body, before.body);
    assert_eq!(after.body["name"], "Escalate");

    // A rejected item patch leaves the item as it was, version included.
    let item = h.create_item(KEY_A).await;
    let item_path = format!("/v1/items/{}", item["id"].as_str().unwrap());
    let r = h
        .patch(
            KEY_A,
            &item_path,
            json!({"title": "New title", "stage_id": "nowhere"}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.fields(), ["stage_id"]);
    let after = h.get(KEY_A, &item_path).await;
    assert_eq!(after.body, item);
}

#[tokio::test]
async fn a_stale_if_match_is_409() {
    let h = harness();
    h.seed(KEY_A).await;
    let item = h.create_item(KEY_A).await;
    let path = format!("/v1/items/{}", item["id"].as_str().unwrap());
    assert_eq!(item["version"], 1);

    let r = h
        .patch(KEY_A, &path, json!({"title": "First"}), Some("\"1\""))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.headers["etag"], "\"2\"");

    let r = h
        .patch(KEY_A, &path, json!({"title": "Second"}), Some("1"))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.error_code(), "conflict");

    let r = h
        .call_with(
            Method::DELETE,
            &path,
            Some(KEY_A),
            None,
            &[("if-match", "W/\"1\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);

    let now = h.get(KEY_A, &path).await;
    assert_eq!(now.body["title"], "First");
    assert_eq!(now.body["version"], 2);

    // RFC 9110: a weak tag never matches If-Match, even the current version.
    let r = h
        .patch(KEY_A, &path, json!({"title": "Second"}), Some("W/\"2\""))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.error_code(), "conflict");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("weak")
    );
    assert_eq!(h.get(KEY_A, &path).await.body["title"], "First");

    // `*` matches whatever version the item has.
    let r = h
        .patch(KEY_A, &path, json!({"title": "Second"}), Some("*"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["title"], "Second");
    assert_eq!(r.body["version"], 3);

    // A list matches when one of its members does.
    let r = h
        .patch(
            KEY_A,
            &path,
            json!({"title": "Third"}),
            Some("\"1\", W/\"3\", \"3\""),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = h
        .patch(
            KEY_A,
            &path,
            json!({"title": "Fourth"}),
            Some("\"1\", \"2\""),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
}

#[tokio::test]
async fn a_malformed_if_match_is_400_naming_it() {
    let h = harness();
    h.seed(KEY_A).await;
    let item = h.create_item(KEY_A).await;
    let path = format!("/v1/items/{}", item["id"].as_str().unwrap());
    for value in ["abc", "\"1", "-1", "W/1", "*, \"1\"", "1;2"] {
        let r = h
            .patch(KEY_A, &path, json!({"title": "x"}), Some(value))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{value}: {}", r.body);
        assert_eq!(r.fields(), ["If-Match"], "{value}");
    }
    let r = h
        .call_with(
            Method::DELETE,
            &path,
            Some(KEY_A),
            None,
            &[("if-match", "x")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.fields(), ["If-Match"]);
    let still = h.get(KEY_A, &path).await;
    assert_eq!(still.body, item);
}

#[tokio::test]
async fn list_endpoints_name_their_missing_query_parameter() {
    let h = harness();
    for (path, param) in [
        ("/v1/tasks", "item_id"),
        ("/v1/tasks?item_id=", "item_id"),
        ("/v1/activities", "item_id"),
        (
            "/v1/tasks?item_id=i1&responsible_id=u-anna",
            "responsible_id",
        ),
        (
            "/v1/activities?item_id=i1&responsible_id=u-anna",
            "responsible_id",
        ),
        ("/v1/tasks?responsible_id=", "item_id"),
        ("/v1/notifications", "user_id"),
        ("/v1/messages", "user_id"),
    ] {
        let r = h.get(KEY_A, path).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(r.error_code(), "bad_request");
        assert_eq!(r.fields(), [param], "{path}");
    }
    let r = h.get(KEY_A, "/v1/outbox?channel=fax").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.fields(), ["channel"]);
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_in_our_shape() {
    let h = harness();
    let r = h.get(KEY_A, "/v1/nothing/here").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_code(), "not_found");
    let r = h.call_with(Method::GET, "/nothing", None, None, &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_code(), "not_found");

    let r = h.delete(KEY_A, "/v1/items").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.error_code(), "method_not_allowed");
    let r = h.post(KEY_A, "/v1/health", json!({})).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.error_code(), "method_not_allowed");
}

#[tokio::test]
async fn clock_endpoints_are_404_without_a_manual_clock() {
    let h = harness();
    let r = h.get(KEY_A, "/v1/clock").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_code(), "not_found");
    let r = h
        .post(KEY_A, "/v1/clock/advance", json!({"seconds": 60}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_code(), "not_found");
    // Even with a body that would not parse: there is no clock to advance.
    let r = h.call_raw(Method::POST, "/v1/clock/advance", "nope").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // And a key is still required.
    let r = h.call_with(Method::GET, "/v1/clock", None, None, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn clock_endpoints_with_a_manual_clock() {
    let h = harness_with_clock();
    let r = h.call_with(Method::GET, "/v1/clock", None, None, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let r = h.get(KEY_A, "/v1/clock").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body, json!({"now": "2026-03-02T09:00:00Z"}));

    let r = h
        .post(ADMIN_KEY, "/v1/clock/advance", json!({"seconds": 3600}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body, json!({"now": "2026-03-02T10:00:00Z"}));

    let r = h
        .post(ADMIN_KEY, "/v1/clock/advance", json!({"seconds": 0}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"now": "2026-03-02T10:00:00Z"}));

    let r = h
        .post(ADMIN_KEY, "/v1/clock/advance", json!({"seconds": -1}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.fields(), ["seconds"]);

    let r = h
        .post(ADMIN_KEY, "/v1/clock/advance", json!({"seconds": i64::MAX}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.fields(), ["seconds"]);

    let r = h
        .post(ADMIN_KEY, "/v1/clock/advance", json!({"seconds": "soon"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.fields(), ["seconds"]);

    let r = h.post(ADMIN_KEY, "/v1/clock/advance", json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.fields(), ["seconds"]);

    // The rejected advances did not move the clock.
    let r = h.get(KEY_A, "/v1/clock").await;
    assert_eq!(r.body, json!({"now": "2026-03-02T10:00:00Z"}));
}

#[tokio::test]
async fn only_the_admin_key_moves_the_clock_and_tenants_may_read_it() {
    let h = harness_with_clock();
    // Every tenant's robots run when the clock moves: a tenant key may not.
    for key in [KEY_A, KEY_B] {
        let r = h
            .post(key, "/v1/clock/advance", json!({"seconds": 86400}))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        assert_eq!(r.error_code(), "forbidden");
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("admin key")
        );
    }
    let r = h
        .post("no-such-key", "/v1/clock/advance", json!({"seconds": 1}))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    // Reading stays open to tenants (and to the admin key); nothing moved.
    for key in [KEY_A, ADMIN_KEY] {
        let r = h.get(key, "/v1/clock").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body, json!({"now": "2026-03-02T09:00:00Z"}));
    }
    let r = h
        .post(ADMIN_KEY, "/v1/clock/advance", json!({"seconds": 60}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body, json!({"now": "2026-03-02T09:01:00Z"}));
    // The admin key belongs to no tenant.
    let r = h.get(ADMIN_KEY, "/v1/feed").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
}

#[tokio::test]
async fn two_authorization_headers_are_400_naming_the_header() {
    let h = harness();
    for (first, second) in [
        ("Bearer key-a", "Bearer key-b"),
        ("Bearer key-a", "Bearer key-a"),
    ] {
        let r = h
            .call_with(
                Method::GET,
                "/v1/feed",
                None,
                None,
                &[("authorization", first), ("authorization", second)],
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert_eq!(r.error_code(), "bad_request");
        assert_eq!(r.fields(), ["Authorization"]);
    }
}

#[tokio::test]
async fn a_store_outage_is_503_without_internals() {
    let h = harness_on(std::sync::Arc::new(DownStore));
    for r in [
        h.get(KEY_A, "/v1/items/item-1").await,
        h.put(KEY_A, "/v1/pipelines/sales", pipeline()).await,
        h.get(KEY_A, "/v1/feed").await,
    ] {
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
        assert_eq!(r.error_code(), "unavailable");
        let text = String::from_utf8_lossy(&r.raw);
        assert!(!text.contains("db.internal"), "{text}");
        assert!(!text.contains("5432"), "{text}");
    }
    // Health does not touch the store.
    let r = h
        .call_with(Method::GET, "/v1/health", None, None, &[])
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn a_placeholder_syntax_error_is_422_naming_the_setting() {
    let h = harness();
    h.seed(KEY_A).await;
    for text in [
        "Hello {{title",
        "Hello {{}}",
        "Hello {{ti tle}}",
        "{{a..b}}",
    ] {
        let mut body = robot();
        body["settings"]["text"] = json!(text);
        let r = h.post(KEY_A, "/v1/pipelines/sales/robots", body).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{text}: {}",
            r.body
        );
        assert_eq!(r.error_code(), "unprocessable");
        assert_eq!(r.fields(), ["settings.text"], "{text}");
    }
    // A wrong type is still a 400.
    let mut body = robot();
    body["settings"]["text"] = json!(5);
    let r = h.post(KEY_A, "/v1/pipelines/sales/robots", body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
}

#[tokio::test]
async fn client_chosen_ids_have_a_charset_and_a_length() {
    let h = harness();
    let long = "p".repeat(129);
    for (path, body) in [
        ("/v1/pipelines/a%20b".to_string(), pipeline()),
        ("/v1/pipelines/%D0%B6".to_string(), pipeline()),
        (format!("/v1/pipelines/{long}"), pipeline()),
        ("/v1/departments/d%0Ax".to_string(), json!({"name": "D"})),
        ("/v1/users/u%2Fx".to_string(), json!({"name": "U"})),
        ("/v1/users/u%3Cscript%3E".to_string(), json!({"name": "U"})),
    ] {
        let r = h.put(KEY_A, &path, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.body);
        assert_eq!(r.fields(), ["id"], "{path}");
    }
    // The documented charset, at the longest length, is accepted.
    let ok = format!("ns:{}", "p._-".repeat(31));
    assert_eq!(ok.len(), 127);
    let r = h
        .put(
            KEY_A,
            &format!("/v1/departments/{ok}x"),
            json!({"name": "D"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn emails_and_phones_are_validated_naming_the_field() {
    let h = harness();
    h.seed(KEY_A).await;
    let cases = [
        (
            json!({"email": "buyer@acme.test\r\nX-Forged: yes"}),
            "client.email",
        ),
        (json!({"email": "buyer"}), "client.email"),
        (json!({"email": "a@b@c"}), "client.email"),
        (json!({"phone": "+7 495\n123"}), "client.phone"),
        (json!({"phone": "call me"}), "client.phone"),
    ];
    for (client, field) in &cases {
        let mut body = item();
        body["client"] = client.clone();
        let r = h.post(KEY_A, "/v1/items", body).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{client}: {}",
            r.body
        );
        assert_eq!(r.fields(), [*field], "{client}");
    }
    let item = h.create_item(KEY_A).await;
    let path = format!("/v1/items/{}", item["id"].as_str().unwrap());
    let r = h
        .patch(KEY_A, &path, json!({"client": {"email": "x@y\n"}}), None)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.fields(), ["client.email"]);
    let r = h
        .post(
            KEY_A,
            "/v1/events",
            json!({"type": "incoming_call", "client": {"phone": "1\r\n2"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.fields(), ["client.phone"]);
    for (user, field) in [
        (json!({"name": "U", "email": "u@x.test\n"}), "email"),
        (json!({"name": "U", "phone": "+1 <555>"}), "phone"),
    ] {
        let r = h.put(KEY_A, "/v1/users/u-new", user.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{user}: {}",
            r.body
        );
        assert_eq!(r.fields(), [field], "{user}");
    }
    // The forms in use stay valid.
    let r = h
        .put(
            KEY_A,
            "/v1/users/u-new",
            json!({"name": "U", "email": "u@x.test", "phone": "+7 (495) 123-45-67"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn a_working_day_may_end_at_24_00() {
    let h = harness();
    h.seed(KEY_A).await;
    let r = h
        .put(
            KEY_A,
            "/v1/users/u-night",
            json!({"name": "Night", "time_zone": "Europe/Moscow",
                "working_hours": {"days": ["mon", "tue"], "start": "18:00", "end": "24:00"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = h.get(KEY_A, "/v1/users/u-night").await;
    assert_eq!(r.body["working_hours"]["end"], "24:00", "{}", r.body);
}

#[tokio::test]
async fn amounts_are_stored_exactly_or_refused_naming_the_field() {
    let h = harness();
    h.seed(KEY_A).await;
    let item = |amount: serde_json::Value| json!({"pipeline_id": "sales", "title": "Money", "amount": amount, "responsible_id": "u-anna"});
    // 2^64 would be stored as 18446744073709552000: refused instead.
    let r = h
        .post(
            KEY_A,
            "/v1/items",
            item(json!(18446744073709551616u128 as f64)),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["details"][0]["field"], "amount");
    let r = h.post(KEY_A, "/v1/items", item(json!(-0.0))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["amount"].to_string(), "0.0");
    let r = h
        .post(KEY_A, "/v1/items", item(json!(999_999_999_999.99)))
        .await;
    assert_eq!(r.body["amount"], json!(999_999_999_999.99));
    let id = r.body["id"].as_str().unwrap().to_string();
    let r = h
        .patch(
            KEY_A,
            &format!("/v1/items/{id}"),
            json!({"amount": 1e300}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["details"][0]["field"], "amount");
}
