//! Roles on keys (issue #12): a `member` key reads everything and works
//! with items, but every write to pipelines, robots, triggers, departments,
//! users and the directory answers 403; an `admin` key may do it all.
//! `GET /v1/me` says which the key is.

use crate::common;

use std::sync::Arc;

use chrono::Utc;
use common::*;
use crm_core::api_keys::{ADMIN_TENANT, ApiKeyStore, MemApiKeys, NewKey, Role};
use crm_http::{CachedKeys, KeyCacheConfig};
use http::{Method, StatusCode};
use serde_json::{Value, json};

/// A harness whose key store holds an admin and a member key of
/// `tenant-a` (besides the configured `KEY_A`, an admin key) and an
/// operator key. Returns (harness, admin key, member key, operator key).
async fn with_roles() -> (Harness, String, String, String) {
    let store = Arc::new(MemApiKeys::new());
    let admin = NewKey::generate("tenant-a", "setup", Utc::now()).unwrap();
    let member = NewKey::generate("tenant-a", "sales floor", Utc::now())
        .unwrap()
        .with_role(Role::Member);
    let operator = NewKey::generate(ADMIN_TENANT, "ops", Utc::now()).unwrap();
    for k in [&admin, &member, &operator] {
        store.add(&k.record).await.unwrap();
    }
    let h = harness_with(|s| s.with_key_store(CachedKeys::new(store, KeyCacheConfig::default())));
    (h, admin.secret, member.secret, operator.secret)
}

fn department() -> Value {
    json!({"name": "Support", "head_id": null, "parent_id": null})
}

fn user() -> Value {
    json!({"name": "Nina", "department_id": null, "time_zone": "Europe/Moscow",
        "working_hours": {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}})
}

#[tokio::test]
async fn me_tells_the_tenant_role_and_label_of_the_key() {
    let (h, admin, member, operator) = with_roles().await;
    let r = h.get(&member, "/v1/me").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"tenant": "tenant-a", "role": "member", "label": "sales floor"})
    );
    let r = h.get(&admin, "/v1/me").await;
    assert_eq!(r.body["role"], "admin");
    assert_eq!(r.body["label"], "setup");
    let r = h.get(KEY_A, "/v1/me").await;
    assert_eq!(r.body["role"], "admin", "configured keys keep full rights");
    assert_eq!(r.body["tenant"], "tenant-a");
    let r = h.get(&operator, "/v1/me").await;
    assert_eq!(r.body["role"], "operator");
    let r = h.get("crm_nope", "/v1/me").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_member_gets_403_on_every_admin_write_and_an_admin_does_it() {
    let (h, admin, member, _) = with_roles().await;
    h.seed(&admin).await;
    let robot_id = {
        let r = h.post(&admin, "/v1/pipelines/sales/robots", robot()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    };
    let trigger_id = {
        let r = h
            .post(&admin, "/v1/pipelines/sales/triggers", trigger())
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    };
    let robot_path = format!("/v1/pipelines/sales/robots/{robot_id}");
    let trigger_path = format!("/v1/pipelines/sales/triggers/{trigger_id}");
    let writes: Vec<(Method, String, Option<Value>, StatusCode)> = vec![
        (
            Method::PUT,
            "/v1/pipelines/sales".into(),
            Some(pipeline()),
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/v1/pipelines/sales/robots".into(),
            Some(robot()),
            StatusCode::CREATED,
        ),
        (
            Method::PUT,
            robot_path.clone(),
            Some(robot()),
            StatusCode::OK,
        ),
        (
            Method::POST,
            format!("{robot_path}/copy"),
            Some(json!({"stage_id": "talks"})),
            StatusCode::CREATED,
        ),
        (
            Method::POST,
            "/v1/pipelines/sales/triggers".into(),
            Some(trigger()),
            StatusCode::CREATED,
        ),
        (
            Method::PUT,
            trigger_path.clone(),
            Some(trigger()),
            StatusCode::OK,
        ),
        (
            Method::POST,
            format!("{trigger_path}/copy"),
            Some(json!({"stage_id": "won"})),
            StatusCode::CREATED,
        ),
        (
            Method::PUT,
            "/v1/departments/d-support".into(),
            Some(department()),
            StatusCode::OK,
        ),
        (
            Method::PUT,
            "/v1/users/u-nina".into(),
            Some(user()),
            StatusCode::OK,
        ),
        (
            Method::PUT,
            "/v1/directory".into(),
            Some(json!({"departments": [{"id": "d-x", "name": "X"}], "users": []})),
            StatusCode::OK,
        ),
        (
            Method::DELETE,
            trigger_path.clone(),
            None,
            StatusCode::NO_CONTENT,
        ),
    ];
    for (method, path, body, ok) in &writes {
        let r = h
            .call_with(method.clone(), path, Some(&member), body.as_ref(), &[])
            .await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "member {method} {path}: {}",
            r.body
        );
        assert_eq!(r.error_code(), "forbidden");
        assert_eq!(
            r.body["error"]["message"], "this needs an admin key (role admin)",
            "{method} {path}"
        );
        let r = h
            .call_with(method.clone(), path, Some(&admin), body.as_ref(), &[])
            .await;
        assert_eq!(r.status, *ok, "admin {method} {path}: {}", r.body);
    }
    // the member's 403 comes before the body is read: a bad body is still a 403
    let r = h
        .call_raw_with(&member, Method::PUT, "/v1/pipelines/sales", "{nope")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // reordering is admin only
    let order = json!({"robot_ids": []});
    let r = h
        .put(&member, "/v1/pipelines/sales/stages/new/robot-order", order)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // deleting a robot too
    let r = h.delete(&member, &robot_path).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        h.delete(&admin, &robot_path).await.status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn a_member_reads_everything_and_works_with_items() {
    let (h, admin, member, _) = with_roles().await;
    h.seed(&admin).await;
    for path in [
        "/v1/pipelines/sales",
        "/v1/pipelines/sales/robots",
        "/v1/pipelines/sales/triggers",
        "/v1/users",
        "/v1/departments",
        "/v1/users/u-anna",
        "/v1/catalogue",
        "/v1/feed",
        "/v1/chats",
        "/v1/outbox",
        "/v1/items?pipeline_id=sales",
    ] {
        let r = h.get(&member, path).await;
        assert_eq!(r.status, StatusCode::OK, "member GET {path}: {}", r.body);
    }
    let item = h.create_item(&member).await;
    let id = item["id"].as_str().unwrap();
    let r = h
        .patch(
            &member,
            &format!("/v1/items/{id}"),
            json!({"stage_id": "talks"}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = h
        .post(
            &member,
            "/v1/events",
            json!({"type": "incoming_call", "item_id": id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let r = h
        .call_with(
            Method::POST,
            &format!("/v1/items/{id}/stop-automation"),
            Some(&member),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = h.delete(&member, &format!("/v1/items/{id}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    // another tenant's key sees none of it
    let r = h.get(KEY_B, &format!("/v1/items/{id}/runs")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
