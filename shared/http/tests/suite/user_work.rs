//! `GET /v1/tasks?responsible_id=` and `GET /v1/activities?responsible_id=`
//! (issue #12): the tasks and activities robots made for one user, across
//! deals, paged; another tenant's user of the same id has none.

use crate::common;

use common::*;
use http::StatusCode;
use serde_json::{Value, json};

fn ids(body: &Value, key: &str) -> Vec<String> {
    body[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["item_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_users_tasks_and_activities_are_listed_across_deals_and_paged() {
    let h = harness();
    h.seed(KEY_A).await;
    h.seed(KEY_B).await;
    for robot in [
        json!({"stage_id": "talks", "type": "create_task",
            "settings": {"title": "Prepare an offer for {{title}}", "responsible_id": "u-dina"}}),
        json!({"stage_id": "talks", "type": "plan_activity",
            "settings": {"description": "Call about {{title}}"}}),
    ] {
        let r = h.post(KEY_A, "/v1/pipelines/sales/robots", robot).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let mut deals = Vec::new();
    for _ in 0..3 {
        let id = h.create_item(KEY_A).await["id"]
            .as_str()
            .unwrap()
            .to_string();
        let r = h
            .patch(
                KEY_A,
                &format!("/v1/items/{id}"),
                json!({"stage_id": "talks"}),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        deals.push(id);
    }
    h.settle().await;

    // Dina's tasks (the robot names her), two to a page.
    let first = h
        .get(KEY_A, "/v1/tasks?responsible_id=u-dina&limit=2")
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["tasks"].as_array().unwrap().len(), 2);
    let cursor = first.body["next_cursor"].as_str().expect("a second page");
    let second = h
        .get(
            KEY_A,
            &format!("/v1/tasks?responsible_id=u-dina&limit=2&cursor={cursor}"),
        )
        .await;
    assert_eq!(second.body["next_cursor"], Value::Null);
    let mut seen = ids(&first.body, "tasks");
    seen.extend(ids(&second.body, "tasks"));
    seen.sort();
    let mut want = deals.clone();
    want.sort();
    assert_eq!(seen, want, "one task per deal, each once");
    assert!(
        first.body["tasks"][0]["title"]
            .as_str()
            .unwrap()
            .starts_with("Prepare an offer for")
    );

    // The activities are the deals' responsible's (Anna's); Dina has none.
    let anna = h.get(KEY_A, "/v1/activities?responsible_id=u-anna").await;
    assert_eq!(anna.body["activities"].as_array().unwrap().len(), 3);
    let dina = h.get(KEY_A, "/v1/activities?responsible_id=u-dina").await;
    assert_eq!(dina.body, json!({"activities": [], "next_cursor": null}));

    // A completed task shows completed in the user's list.
    let task = first.body["tasks"][0]["id"].as_str().unwrap().to_string();
    let r = h
        .patch(
            KEY_A,
            &format!("/v1/tasks/{task}"),
            json!({"status": "completed"}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let again = h
        .get(KEY_A, "/v1/tasks?responsible_id=u-dina&limit=1")
        .await;
    assert_eq!(again.body["tasks"][0]["id"], json!(task));
    assert_eq!(again.body["tasks"][0]["status"], json!("completed"));

    // Tenant B has a u-dina too: her list is empty.
    let other = h.get(KEY_B, "/v1/tasks?responsible_id=u-dina").await;
    assert_eq!(other.body, json!({"tasks": [], "next_cursor": null}));
    // A bad limit or cursor is a 400 naming it.
    let r = h
        .get(KEY_A, "/v1/tasks?responsible_id=u-dina&limit=0")
        .await;
    assert_eq!(
        (r.status, r.fields()),
        (StatusCode::BAD_REQUEST, vec!["limit".to_string()])
    );
    let r = h
        .get(KEY_A, "/v1/activities?responsible_id=u-anna&cursor=zz")
        .await;
    assert_eq!(
        (r.status, r.fields()),
        (StatusCode::BAD_REQUEST, vec!["cursor".to_string()])
    );
}
