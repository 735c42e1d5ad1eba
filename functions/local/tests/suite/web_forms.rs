//! Web forms (issue #15) end to end over the local server (real HTTP,
//! SQLite, manual clock): a form made through the API is served at
//! `/f/{form_id}`, a visitor's post (no API key) creates a lead whose robot
//! runs, the honeypot and bad values change nothing, and posts are limited
//! per client address and form.

use crate::common;

use common::{MONDAY_1144_MSK, run_of, started};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_post_over_http_creates_a_lead_whose_robot_runs() {
    let (_dir, server, api, globex) = started(MONDAY_1144_MSK).await;
    let base = server.base_url();
    let robot = api
        .robot(json!({"stage_id": "new", "type": "add_timeline_comment",
            "settings": {"text": "Lead from the site: {{client.email}}"}}))
        .await;
    let form = api
        .post(
            "/v1/forms",
            json!({
                "name": "Order a design", "pipeline_id": "deals", "responsible_id": "u-anna",
                "fields": [
                    {"name": "email", "label": "E-mail", "type": "email", "required": true, "maps_to": "client.email"},
                    {"name": "budget", "label": "Budget", "type": "number", "maps_to": "fields.budget"}
                ]
            }),
        )
        .await;
    let id = form["id"].as_str().unwrap().to_string();
    let http = reqwest::Client::new();

    // The page, keyless.
    let page = http.get(format!("{base}/f/{id}")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("name=\"email\"") && html.contains("Order a design"));
    let js = http
        .get(format!("{base}/f/{id}/embed.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);

    // Bad values and the honeypot: nothing made.
    let post = |body: &'static str| {
        http.post(format!("{base}/f/{id}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let r = post("budget=lots").await.unwrap();
    assert_eq!(r.status(), 422);
    let err: serde_json::Value = r.json().await.unwrap();
    let fields: Vec<&str> = err["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "budget"]);
    assert_eq!(
        post("email=bot%40spam.test&website=x")
            .await
            .unwrap()
            .status(),
        201
    );
    api.settle().await;
    assert!(
        api.all_pages("/v1/items?pipeline_id=deals", "items")
            .await
            .is_empty()
    );

    // A real post: a lead whose robot runs.
    let r = post("email=ann%40example.test&budget=1200").await.unwrap();
    assert_eq!(r.status(), 201);
    api.settle().await;
    let items = api.all_pages("/v1/items?pipeline_id=deals", "items").await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["client"]["email"], "ann@example.test");
    assert_eq!(items[0]["fields"]["budget"], 1200.0);
    let item = items[0]["id"].as_str().unwrap();
    let runs = api.runs(item).await;
    assert_eq!(run_of(&runs, &robot)["status"], "done", "{runs:#?}");
    let comments = api.timeline(item).await;
    assert!(
        comments
            .iter()
            .any(|e| e["text"] == "Lead from the site: ann@example.test"),
        "{comments:#?}"
    );
    // Nothing for the other tenant.
    assert!(globex.all_pages("/v1/forms", "forms").await.is_empty());

    // The limit: 10 posts a minute per address and form (3 made above).
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(
            post("email=bot%40spam.test&website=x")
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(&statuses[..7], [201; 7]);
    assert_eq!(statuses[7], 429, "{statuses:?}");

    // Deleted: 404.
    let (status, _) = api
        .call(reqwest::Method::DELETE, &format!("/v1/forms/{id}"), None)
        .await;
    assert_eq!(status, 204);
    let page = http.get(format!("{base}/f/{id}")).send().await.unwrap();
    assert_eq!(page.status(), 404);
}
