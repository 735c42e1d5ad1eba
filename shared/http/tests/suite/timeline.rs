//! `GET /v1/items/{id}/timeline?kind=` (issue #9): history records are
//! filterable by type.

use crate::common;

use common::*;
use http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn the_timeline_is_filtered_by_kind() {
    let h = harness();
    h.seed(KEY_A).await;
    let item = h.create_item(KEY_A).await;
    let id = item["id"].as_str().unwrap();
    let path = format!("/v1/items/{id}");
    let r = h
        .patch(KEY_A, &path, json!({"stage_id": "talks"}), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = h
        .patch(KEY_A, &path, json!({"title": "11 chairs"}), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let kinds = |r: &Reply| -> Vec<String> {
        r.body["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_string())
            .collect()
    };
    let all = h.get(KEY_A, &format!("{path}/timeline")).await;
    assert_eq!(kinds(&all), ["created", "stage_changed", "fields_changed"]);
    let r = h
        .get(KEY_A, &format!("{path}/timeline?kind=stage_changed"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(kinds(&r), ["stage_changed"]);
    let r = h
        .get(
            KEY_A,
            &format!("{path}/timeline?kind=created,fields_changed"),
        )
        .await;
    assert_eq!(kinds(&r), ["created", "fields_changed"]);
    let r = h.get(KEY_A, &format!("{path}/timeline?kind=info")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(kinds(&r), Vec::<String>::new());

    // an unknown kind, or an unknown parameter, is a 400 naming it
    let r = h.get(KEY_A, &format!("{path}/timeline?kind=gossip")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.fields(), ["kind"]);
    let r = h.get(KEY_A, &format!("{path}/timeline?kinds=info")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.error_code(), "bad_request");
    // another tenant's item stays a 404
    let r = h.get(KEY_B, &format!("{path}/timeline?kind=info")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_openapi_document_describes_the_kind_filter() {
    let h = harness();
    let doc = h.get(KEY_A, "/v1/openapi.json").await.body;
    let params = doc["paths"]["/v1/items/{id}/timeline"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .clone();
    let kind = params
        .iter()
        .find(|p| p["name"] == "kind")
        .expect("a kind parameter");
    assert_eq!(kind["in"], "query");
    assert_eq!(kind["required"], false);
}
