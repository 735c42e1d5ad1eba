//! `GET /v1/items`: the kanban's list — a pipeline's items a page at a time,
//! by stage or search text, with an opaque cursor.

use crate::common;

use common::*;
use http::StatusCode;
use serde_json::{Value, json};

async fn create(h: &Harness, title: &str, client: &str) -> String {
    let mut body = item();
    body["title"] = json!(title);
    body["client"]["name"] = json!(client);
    // The fixture's email names ACME: searched too, it would match all.
    body["client"].as_object_mut().unwrap().remove("email");
    let r = h.post(KEY_A, "/v1/items", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

/// Every page of `query`, following `next_cursor` to the end.
async fn all_pages(h: &Harness, query: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/items?{query}&cursor={c}"),
            None => format!("/v1/items?{query}"),
        };
        let r = h.get(KEY_A, &path).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let ids = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect();
        pages.push(ids);
        match &r.body["next_cursor"] {
            Value::String(c) => cursor = Some(c.clone()),
            Value::Null => return pages,
            other => panic!("next_cursor {other}"),
        }
    }
}

#[tokio::test]
async fn a_pipeline_is_listed_a_page_at_a_time_by_stage_and_search_text() {
    let h = harness();
    h.seed(KEY_A).await;
    let mut ids = Vec::new();
    for (n, client) in ["ACME", "Romashka", "ACME", "Vasilek", "acme labs"]
        .iter()
        .enumerate()
    {
        ids.push(create(&h, &format!("Deal {n}"), client).await);
    }
    for id in &ids[..2] {
        let r = h
            .patch(
                KEY_A,
                &format!("/v1/items/{id}"),
                json!({"stage_id": "talks"}),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }

    let pages = all_pages(&h, "pipeline_id=sales&limit=2").await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    let mut listed: Vec<String> = pages.concat();
    let mut expected = ids.clone();
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected, "every item once across the pages");

    let talks = all_pages(&h, "pipeline_id=sales&stage_id=talks&limit=1").await;
    let mut in_talks: Vec<String> = talks.concat();
    in_talks.sort();
    let mut moved = ids[..2].to_vec();
    moved.sort();
    assert_eq!(in_talks, moved, "only the stage's items");

    let acme = all_pages(&h, "pipeline_id=sales&q=AcMe&limit=50")
        .await
        .concat();
    assert_eq!(acme.len(), 3, "client name matched case-insensitively");
    let by_title = all_pages(&h, "pipeline_id=sales&q=deal%203").await.concat();
    assert_eq!(by_title, [ids[3].clone()]);
    let item = h.get(KEY_A, "/v1/items?pipeline_id=sales&q=deal%203").await;
    assert_eq!(item.body["items"][0]["title"], "Deal 3");
    assert!(item.body["items"][0]["version"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn a_deleted_item_leaves_the_list() {
    let h = harness();
    h.seed(KEY_A).await;
    let keep = create(&h, "Keep", "ACME").await;
    let gone = create(&h, "Gone", "ACME").await;
    let r = h.delete(KEY_A, &format!("/v1/items/{gone}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(all_pages(&h, "pipeline_id=sales").await.concat(), [keep]);
}

#[tokio::test]
async fn bad_queries_are_refused() {
    let h = harness();
    h.seed(KEY_A).await;
    for (path, status) in [
        ("/v1/items", StatusCode::BAD_REQUEST),
        (
            "/v1/items?pipeline_id=sales&limit=0",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/v1/items?pipeline_id=sales&limit=201",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/v1/items?pipeline_id=sales&cursor=zz",
            StatusCode::BAD_REQUEST,
        ),
        ("/v1/items?pipeline_id=nope", StatusCode::NOT_FOUND),
    ] {
        let r = h.get(KEY_A, path).await;
        assert_eq!(r.status, status, "{path}: {}", r.body);
    }
    // Another tenant does not see the pipeline (nor its items).
    let r = h.get(KEY_B, "/v1/items?pipeline_id=sales").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
}
