//! Run now, stop automation, robot order, badges and the paged lists of the
//! board (issue #12), through the router.

use crate::common;

use common::*;
use crm_core::ports::Clock;
use http::{Method, StatusCode};
use serde_json::{Value, json};

fn later_comment(stage: &str, text: &str) -> Value {
    json!({"stage_id": stage, "type": "add_timeline_comment", "name": text,
        "delay": {"mode": "after", "amount": 1, "unit": "days"},
        "respect_working_hours": false, "condition": null, "after_previous": false,
        "settings": {"text": text}})
}

async fn add_robot(h: &Harness, body: Value) -> String {
    let r = h.post(KEY_A, "/v1/pipelines/sales/robots", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

async fn runs(h: &Harness, id: &str) -> Vec<Value> {
    let r = h.get(KEY_A, &format!("/v1/items/{id}/runs")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["runs"].as_array().unwrap().clone()
}

async fn comments(h: &Harness, id: &str) -> Vec<String> {
    let r = h
        .get(KEY_A, &format!("/v1/items/{id}/timeline?kind=comment"))
        .await;
    r.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["text"].as_str().unwrap().to_string())
        .collect()
}

async fn post_empty(h: &Harness, key: &str, path: &str) -> Reply {
    h.call_with(Method::POST, path, Some(key), None, &[]).await
}

#[tokio::test]
async fn run_now_answers_202_and_the_robot_runs_once_at_the_next_step() {
    let h = harness();
    h.seed(KEY_A).await;
    add_robot(&h, later_comment("new", "tomorrow")).await;
    let item = h.create_item(KEY_A).await;
    let id = item["id"].as_str().unwrap();
    h.settle().await;
    let run = runs(&h, id).await[0].clone();
    assert_eq!(run["status"], "pending");
    let run_id = run["id"].as_str().unwrap();
    let path = format!("/v1/items/{id}/runs/{run_id}/run-now");

    let r = post_empty(&h, KEY_A, &path).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["status"], "pending");
    assert_eq!(r.body["id"], run_id);
    assert_eq!(r.body["reason"], "run now by configured key");
    let due: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(r.body["due_at"].clone()).unwrap();
    assert_eq!(due, h.clock.now());
    h.settle().await;
    assert_eq!(comments(&h, id).await, ["tomorrow"]);
    assert_eq!(runs(&h, id).await[0]["status"], "done");
    // a final run: 409 naming its status; unknown run, item or tenant: 404
    let r = post_empty(&h, KEY_A, &path).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("done")
    );
    let r = post_empty(&h, KEY_A, &format!("/v1/items/{id}/runs/nope/run-now")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = post_empty(&h, KEY_B, &path).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    h.advance(chrono::Duration::days(2)).await;
    assert_eq!(comments(&h, id).await, ["tomorrow"], "ran exactly once");
}

#[tokio::test]
async fn stop_automation_cancels_pending_robots_and_is_idempotent() {
    let h = harness();
    h.seed(KEY_A).await;
    add_robot(&h, later_comment("new", "one")).await;
    add_robot(&h, later_comment("new", "two")).await;
    let item = h.create_item(KEY_A).await;
    let id = item["id"].as_str().unwrap().to_string();
    h.settle().await;
    let path = format!("/v1/items/{id}/stop-automation");
    let r = h
        .post(KEY_A, &path, json!({"reason": "client on holiday"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["cancelled"], 2);
    for run in r.body["runs"].as_array().unwrap() {
        assert_eq!(run["status"], "cancelled");
        assert_eq!(
            run["reason"],
            "automation stopped by configured key: client on holiday"
        );
    }
    let r = post_empty(&h, KEY_A, &path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body, json!({"cancelled": 0, "runs": []}));
    h.advance(chrono::Duration::days(2)).await;
    assert!(comments(&h, &id).await.is_empty());
    let info = h
        .get(KEY_A, &format!("/v1/items/{id}/timeline?kind=info"))
        .await;
    assert_eq!(
        info.body["entries"].as_array().unwrap().len(),
        1,
        "{}",
        info.body
    );
    // bad bodies and other tenants
    let long = "x".repeat(501);
    let r = h.post(KEY_A, &path, json!({"reason": long})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.fields(), ["reason"]);
    let r = h.post(KEY_A, &path, json!({"why": "x"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = post_empty(&h, KEY_B, &path).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn badges_count_pending_and_failed_runs_of_listed_items() {
    let h = harness();
    h.seed(KEY_A).await;
    add_robot(&h, later_comment("new", "one")).await;
    let a = h.create_item(KEY_A).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = h.create_item(KEY_A).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    h.settle().await;
    let r = h
        .get(KEY_A, &format!("/v1/items/run-summary?ids={a},{b},ghost"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"items": {a.clone(): {"pending": 1, "failed": 0}, b.clone(): {"pending": 1, "failed": 0}}})
    );
    let r = h
        .get(KEY_B, &format!("/v1/items/run-summary?ids={a}"))
        .await;
    assert_eq!(
        r.body,
        json!({"items": {}}),
        "another tenant's ids are left out"
    );
    let many: Vec<String> = (0..101).map(|n| format!("i{n}")).collect();
    let r = h
        .get(
            KEY_A,
            &format!("/v1/items/run-summary?ids={}", many.join(",")),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.fields(), ["ids"]);
    let r = h.get(KEY_A, "/v1/items/run-summary").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn robots_of_a_stage_are_reordered() {
    let h = harness();
    h.seed(KEY_A).await;
    let one = add_robot(&h, later_comment("new", "one")).await;
    let two = add_robot(&h, later_comment("new", "two")).await;
    let path = "/v1/pipelines/sales/stages/new/robot-order";
    let r = h
        .put(
            KEY_A,
            path,
            json!({"robot_ids": [two.clone(), one.clone()]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let ids: Vec<&str> = r.body["robots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [two.as_str(), one.as_str()]);
    let listed = h.get(KEY_A, "/v1/pipelines/sales/robots").await;
    let ids: Vec<&str> = listed.body["robots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [two.as_str(), one.as_str()]);
    for bad in [
        json!({"robot_ids": [one.clone()]}),
        json!({"robot_ids": [one.clone(), one.clone()]}),
    ] {
        let r = h.put(KEY_A, path, bad).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(r.fields(), ["robot_ids"]);
    }
    let r = h
        .put(
            KEY_A,
            "/v1/pipelines/sales/stages/nope/robot-order",
            json!({"robot_ids": []}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = h.put(KEY_B, path, json!({"robot_ids": [two, one]})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "another tenant's pipeline");
}

/// Every page of `path` (which has a query already or not), `limit` at a time.
async fn all_pages(h: &Harness, path: &str, field: &str, limit: usize) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let r = h.get(KEY_A, &url).await;
        assert_eq!(r.status, StatusCode::OK, "{url}: {}", r.body);
        let items = r.body[field].as_array().unwrap();
        assert!(items.len() <= limit, "{url}");
        out.extend(items.iter().cloned());
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => {
                assert!(r.body["next_cursor"].is_null());
                return out;
            }
        }
    }
    panic!("{path} never ended");
}

#[tokio::test]
async fn every_list_pages_and_ends_with_a_null_cursor() {
    let h = harness();
    h.seed(KEY_A).await;
    for n in 0..3 {
        add_robot(&h, later_comment("new", &format!("r{n}"))).await;
    }
    let item = h.create_item(KEY_A).await;
    let id = item["id"].as_str().unwrap();
    h.settle().await;
    let r = h
        .patch(
            KEY_A,
            &format!("/v1/items/{id}"),
            json!({"stage_id": "talks"}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    h.settle().await;
    for path in [
        "/v1/users".to_string(),
        "/v1/departments".to_string(),
        "/v1/pipelines/sales/robots".to_string(),
        format!("/v1/items/{id}/runs"),
        format!("/v1/items/{id}/timeline"),
    ] {
        let field = match path.as_str() {
            "/v1/users" => "users",
            "/v1/departments" => "departments",
            p if p.ends_with("/robots") => "robots",
            p if p.ends_with("/runs") => "runs",
            _ => "entries",
        };
        let whole = h.get(KEY_A, &format!("{path}?limit=200")).await;
        let whole = whole.body[field].as_array().unwrap().clone();
        assert!(whole.len() >= 2, "{path}: {whole:?}");
        let paged = all_pages(&h, &path, field, 1).await;
        assert_eq!(
            paged, whole,
            "{path}: one at a time, the same records in order"
        );
    }
    let users: Vec<String> = all_pages(&h, "/v1/users", "users", 2)
        .await
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect();
    let mut expected: Vec<String> = crm_core::testing::company()
        .into_iter()
        .filter(|p| p.record == crm_core::testing::Record::User)
        .map(|p| p.id.to_string())
        .collect();
    let mut sorted = users.clone();
    sorted.sort();
    expected.sort();
    expected.dedup();
    assert_eq!(sorted, expected, "every user once");
    for path in [
        format!("/v1/tasks?item_id={id}"),
        format!("/v1/activities?item_id={id}"),
        "/v1/notifications?user_id=u-boss".to_string(),
        "/v1/messages?user_id=u-boss".to_string(),
        "/v1/feed".to_string(),
        "/v1/outbox".to_string(),
        "/v1/chats".to_string(),
        "/v1/pipelines/sales/triggers".to_string(),
    ] {
        let r = h.get(KEY_A, &path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        assert!(r.body["next_cursor"].is_null(), "{path}: {}", r.body);
        let sep = if path.contains('?') { '&' } else { '?' };
        for bad in ["limit=0", "limit=201", "cursor=zz"] {
            let r = h.get(KEY_A, &format!("{path}{sep}{bad}")).await;
            assert_eq!(
                r.status,
                StatusCode::BAD_REQUEST,
                "{path} {bad}: {}",
                r.body
            );
        }
    }
}
