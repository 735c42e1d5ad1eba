//! `PUT /v1/directory`: departments and users together, all or nothing.

use crate::common;

use common::*;
use http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn the_whole_directory_in_one_request() {
    let h = harness();
    let r = h
        .put(
            KEY_A,
            "/v1/directory",
            json!({
                "departments": [
                    {"id": "sales", "name": "Sales", "head_id": "u-boss"},
                    {"id": "east", "name": "East", "head_id": "u-eva", "parent_id": "sales"}
                ],
                "users": [
                    {"id": "u-eva", "name": "Eva", "department_id": "east", "time_zone": "Europe/Berlin"},
                    {"id": "u-boss", "name": "Boris", "department_id": "sales"}
                ]
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["departments"][1]["parent_id"], "sales");
    assert_eq!(r.body["users"][0]["time_zone"], "Europe/Berlin");
    let eva = h.get(KEY_A, "/v1/users/u-eva").await;
    assert_eq!(eva.body["department_id"], "east");
    // Another tenant sees none of it.
    assert_eq!(
        h.get(KEY_B, "/v1/departments/east").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_bad_reference_is_422_naming_it_and_nothing_is_written() {
    let h = harness();
    let r = h
        .put(
            KEY_A,
            "/v1/directory",
            json!({
                "departments": [{"id": "east", "name": "East", "parent_id": "west"}],
                "users": [{"id": "u-eva", "name": "Eva", "department_id": "east"}]
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.fields(), ["departments[0].parent_id"]);
    assert_eq!(
        h.get(KEY_A, "/v1/users/u-eva").await.status,
        StatusCode::NOT_FOUND
    );
    // The single PUTs keep their 422s.
    let r = h
        .put(
            KEY_A,
            "/v1/users/u-eva",
            json!({"name": "Eva", "department_id": "east"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.fields(), ["department_id"]);
}

#[tokio::test]
async fn too_many_records_is_422_naming_the_limit() {
    let h = harness();
    let users: Vec<_> = (0..51)
        .map(|i| json!({"id": format!("u-{i}"), "name": "U"}))
        .collect();
    let r = h.put(KEY_A, "/v1/directory", json!({"users": users})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.to_string().contains("at most 50"), "{}", r.body);
}

#[tokio::test]
async fn the_directory_endpoint_is_documented() {
    let h = harness();
    let doc = h.get(KEY_A, "/v1/openapi.json").await;
    let op = &doc.body["paths"]["/v1/directory"]["put"];
    assert!(op["responses"].get("422").is_some(), "{op}");
    assert!(
        op["description"]
            .as_str()
            .unwrap()
            .contains("all or nothing")
    );
}

#[tokio::test]
async fn entries_with_a_bad_id_or_contact_are_refused_naming_the_entry() {
    let h = harness();
    let bad_id = json!({"departments": [{"id": "sa les", "name": "Sales"}]});
    let r = h.put(KEY_A, "/v1/directory", bad_id).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["error"]["details"][0]["field"], "departments[0].id");
    let forged = json!({"users": [
        {"id": "u-ok", "name": "Ok"},
        {"id": "u-eve", "name": "Eve", "email": "eve@x.test\r\nlevel=ERROR forged"}
    ]});
    let r = h.put(KEY_A, "/v1/directory", forged).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["details"][0]["field"], "users[1].email");
    assert_eq!(
        h.get(KEY_A, "/v1/users/u-ok").await.status,
        StatusCode::NOT_FOUND
    );
}
