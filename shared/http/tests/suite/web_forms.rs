//! Web forms (issue #15): the admin API and the public `/f/{form_id}` on the
//! memory runtime.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use common::*;
use crm_http::ManualTicker;
use crm_http::public::PublicLimiter;
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};

fn form_body() -> Value {
    json!({
        "name": "Contact us",
        "pipeline_id": "sales",
        "stage_id": "new",
        "responsible_id": "u-anna",
        "success_message": "Thanks, we will call you.",
        "fields": [
            {"name": "name", "label": "Your name", "type": "text", "maps_to": "client.name"},
            {"name": "email", "label": "E-mail", "type": "email", "required": true, "maps_to": "client.email"},
            {"name": "phone", "label": "Phone", "type": "phone", "maps_to": "client.phone"},
            {"name": "budget", "label": "Budget", "type": "number", "maps_to": "amount"},
            {"name": "message", "label": "Message", "type": "textarea"}
        ]
    })
}

async fn make_form(h: &Harness) -> String {
    let r = h.post(KEY_A, "/v1/forms", form_body()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

/// A raw answer (the public pages are not JSON).
struct Raw {
    status: StatusCode,
    headers: http::HeaderMap,
    text: String,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

async fn public(h: &Harness, request: Request<Body>) -> Raw {
    let (status, headers, text) = h.send_text(request).await;
    Raw {
        status,
        headers,
        text,
    }
}

async fn post_form(h: &Harness, id: &str, body: Value, headers: &[(&str, &str)]) -> Raw {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(format!("/f/{id}"))
        .header("content-type", "application/json")
        .header("x-forwarded-for", "203.0.113.7");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    public(h, b.body(Body::from(body.to_string())).unwrap()).await
}

async fn post_urlencoded(h: &Harness, id: &str, body: &str, accept: &str) -> Raw {
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/f/{id}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", accept)
        .header("x-forwarded-for", "203.0.113.8")
        .body(Body::from(body.to_string()))
        .unwrap();
    public(h, request).await
}

async fn get_public(h: &Harness, path: &str) -> Raw {
    public(h, Request::builder().uri(path).body(Body::empty()).unwrap()).await
}

async fn items(h: &Harness) -> Vec<Value> {
    let r = h.get(KEY_A, "/v1/items?pipeline_id=sales").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn forms_are_made_read_paged_replaced_and_deleted_per_tenant() {
    let h = harness();
    h.seed(KEY_A).await;
    h.seed(KEY_B).await;
    let id = make_form(&h).await;
    assert!(id.starts_with("wf_") && id.len() == 35, "{id}");
    assert!(!id.contains("tenant"), "the id names no tenant");
    let r = h.get(KEY_A, &format!("/v1/forms/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["page_path"], format!("/f/{id}"));
    assert_eq!(r.body["embed_path"], format!("/f/{id}/embed.js"));
    assert_eq!(r.body["stage_id"], "new");
    assert_eq!(r.body["entity_type"], "deal");
    // Another tenant sees nothing of it.
    assert_eq!(
        h.get(KEY_B, &format!("/v1/forms/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.delete(KEY_B, &format!("/v1/forms/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(h.get(KEY_B, "/v1/forms").await.body["forms"], json!([]));
    // Paging.
    let second = make_form(&h).await;
    let r = h.get(KEY_A, "/v1/forms?limit=1").await;
    assert_eq!(r.body["forms"].as_array().unwrap().len(), 1);
    let cursor = r.body["next_cursor"].as_str().unwrap().to_string();
    let r2 = h
        .get(KEY_A, &format!("/v1/forms?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(r2.body["forms"].as_array().unwrap().len(), 1);
    assert_ne!(r.body["forms"][0]["id"], r2.body["forms"][0]["id"]);
    // Replace keeps the id.
    let mut body = form_body();
    body["name"] = json!("Call me back");
    let r = h.put(KEY_A, &format!("/v1/forms/{id}"), body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["id"], id);
    assert_eq!(r.body["name"], "Call me back");
    // Delete: the public page and posts are gone.
    assert_eq!(
        get_public(&h, &format!("/f/{second}")).await.status,
        StatusCode::OK
    );
    let r = h.delete(KEY_A, &format!("/v1/forms/{second}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        get_public(&h, &format!("/f/{second}")).await.status,
        StatusCode::NOT_FOUND
    );
    let r = post_form(&h, &second, json!({"email": "a@b.test"}), &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(items(&h).await.len(), 0);
}

#[tokio::test]
async fn bad_form_definitions_are_422_naming_the_field() {
    let h = harness();
    h.seed(KEY_A).await;
    let mut body = form_body();
    body["fields"][1]["name"] = json!("E-mail");
    body["fields"][3]["maps_to"] = json!("client.phone");
    body["stage_id"] = json!("nowhere");
    body["responsible_id"] = json!("u-ghost");
    let r = h.post(KEY_A, "/v1/forms", body).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let fields = r.fields();
    for f in [
        "fields[1].name",
        "fields[3].maps_to",
        "stage_id",
        "responsible_id",
    ] {
        assert!(fields.contains(&f.to_string()), "{f} not in {fields:?}");
    }
    let mut body = form_body();
    body["fields"][4]["maps_to"] = json!("fields.nope");
    let r = h.post(KEY_A, "/v1/forms", body).await;
    assert_eq!(r.fields(), ["fields[4].maps_to"]);
    let mut body = form_body();
    body["pipeline_id"] = json!("nope");
    let r = h.post(KEY_A, "/v1/forms", body).await;
    assert_eq!(r.fields(), ["pipeline_id"]);
    let mut body = form_body();
    body["fields"] = json!(
        (0..31)
            .map(|i| json!({"name": format!("f{i}"), "label": "x", "type": "text"}))
            .collect::<Vec<_>>()
    );
    let r = h.post(KEY_A, "/v1/forms", body).await;
    assert_eq!(r.fields(), ["fields"]);
    assert_eq!(h.get(KEY_A, "/v1/forms").await.body["forms"], json!([]));
}

#[tokio::test]
async fn a_form_post_creates_a_lead_whose_robots_run() {
    let h = harness();
    h.seed(KEY_A).await;
    let mut robot = robot();
    robot["delay"] = json!(null);
    robot["condition"] = json!(null);
    let r = h.post(KEY_A, "/v1/pipelines/sales/robots", robot).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = make_form(&h).await;
    let r = post_urlencoded(
        &h,
        &id,
        "name=Ann+Lee&email=ann%40example.test&phone=%2B7+900+111-22-33&budget=2500&message=Call+me",
        "*/*",
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["message"], "Thanks, we will call you.");
    assert_eq!(r.headers["access-control-allow-origin"], "*");
    assert!(
        !r.text.contains("item"),
        "the answer names no item: {}",
        r.text
    );
    h.settle().await;
    let all = items(&h).await;
    assert_eq!(all.len(), 1);
    let item = &all[0];
    assert_eq!(item["stage_id"], "new");
    assert_eq!(item["responsible_id"], "u-anna");
    assert_eq!(item["amount"], 2500.0);
    assert_eq!(item["client"]["email"], "ann@example.test");
    assert_eq!(item["client"]["name"], "Ann Lee");
    assert_eq!(item["title"], "Contact us: Ann Lee");
    let runs = h
        .get(
            KEY_A,
            &format!("/v1/items/{}/runs", item["id"].as_str().unwrap()),
        )
        .await;
    let runs = runs.body["runs"].as_array().unwrap().clone();
    let robot_run = runs
        .iter()
        .find(|r| r["kind"] == "robot")
        .unwrap_or_else(|| panic!("no robot run in {runs:?}"));
    assert_eq!(robot_run["status"], "done", "{robot_run}");
    let trigger_eval = runs.iter().find(|r| r["event_type"] == "form_submitted");
    assert!(
        trigger_eval.is_some(),
        "form_submitted was evaluated: {runs:?}"
    );
}

#[tokio::test]
async fn a_form_post_of_a_known_client_moves_the_open_item_with_form_submitted() {
    let h = harness();
    h.seed(KEY_A).await;
    let id = make_form(&h).await;
    let other = make_form(&h).await;
    let deal = h.create_item(KEY_A).await; // client buyer@acme.test
    let mut trigger = trigger();
    trigger["type"] = json!("form_submitted");
    trigger["settings"] = json!({"form_id": id});
    let r = h.post(KEY_A, "/v1/pipelines/sales/triggers", trigger).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // Another form: the trigger is for one form only.
    let r = post_form(&h, &other, json!({"email": "BUYER@acme.test"}), &[]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    h.settle().await;
    let path = format!("/v1/items/{}", deal["id"].as_str().unwrap());
    assert_eq!(h.get(KEY_A, &path).await.body["stage_id"], "new");
    let r = post_form(
        &h,
        &id,
        json!({"email": "buyer@acme.test", "budget": 10}),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    h.settle().await;
    assert_eq!(h.get(KEY_A, &path).await.body["stage_id"], "talks");
    assert_eq!(items(&h).await.len(), 1, "no new item for a known client");
}

#[tokio::test]
async fn the_honeypot_answers_like_a_success_and_creates_nothing() {
    let h = harness();
    h.seed(KEY_A).await;
    let id = make_form(&h).await;
    let r = post_form(
        &h,
        &id,
        json!({"email": "bot@spam.test", "website": "http://spam.test"}),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["message"], "Thanks, we will call you.");
    h.settle().await;
    assert_eq!(items(&h).await.len(), 0);
}

#[tokio::test]
async fn bad_values_are_422_naming_the_form_field_and_change_nothing() {
    let h = harness();
    h.seed(KEY_A).await;
    let id = make_form(&h).await;
    let r = post_form(&h, &id, json!({"name": "Ann"}), &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.json()["error"]["details"][0]["field"], "email");
    let r = post_form(
        &h,
        &id,
        json!({"email": "not-an-address", "budget": "lots", "phone": "call me"}),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<String> = r.json()["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["email", "phone", "budget"]);
    let r = post_form(
        &h,
        &id,
        json!({"email": "a@b.test", "name": "x".repeat(1001)}),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // A browser's plain post gets an HTML page.
    let r = post_urlencoded(&h, &id, "name=Ann", "text/html").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text.contains("<html") && r.text.contains("email"),
        "{}",
        r.text
    );
    let r = public(
        &h,
        Request::builder()
            .method(Method::POST)
            .uri(format!("/f/{id}"))
            .header("content-type", "text/csv")
            .body(Body::from("a,b"))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    h.settle().await;
    assert_eq!(items(&h).await.len(), 0);
}

#[tokio::test]
async fn posts_are_limited_per_address_and_form() {
    let ticker = Arc::new(ManualTicker::new());
    let t = ticker.clone();
    let h = harness_with(move |s| s.with_public_limits(PublicLimiter::new(t)));
    h.seed(KEY_A).await;
    let id = make_form(&h).await;
    let other = make_form(&h).await;
    let spam = json!({"email": "x@y.test", "website": "bot"});
    for _ in 0..10 {
        assert_eq!(
            post_form(&h, &id, spam.clone(), &[]).await.status,
            StatusCode::CREATED
        );
    }
    let r = post_form(&h, &id, spam.clone(), &[]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!(r.headers["retry-after"], "60");
    assert_eq!(r.json()["error"]["code"], "too_many_requests");
    // Another form, another address: their own limits.
    assert_eq!(
        post_form(&h, &other, spam.clone(), &[]).await.status,
        StatusCode::CREATED
    );
    let r = post_form(
        &h,
        &id,
        spam.clone(),
        &[("x-forwarded-for", "198.51.100.1")],
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    ticker.advance(Duration::from_secs(60));
    assert_eq!(
        post_form(&h, &id, spam, &[]).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn unknown_forms_are_404_and_reveal_nothing() {
    let h = harness();
    h.seed(KEY_A).await;
    for path in [
        "/f/wf_00000000000000000000000000000000",
        "/f/nope",
        "/f/wf_00000000000000000000000000000000/embed.js",
    ] {
        let r = get_public(&h, path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!r.text.contains("tenant"), "{}", r.text);
    }
    let r = post_form(
        &h,
        "wf_00000000000000000000000000000000",
        json!({"email": "a@b.test"}),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_repeated_idempotency_key_makes_one_item_and_one_event() {
    let h = harness();
    h.seed(KEY_A).await;
    let id = make_form(&h).await;
    let body = json!({"email": "new@client.test", "name": "New"});
    let a = post_form(&h, &id, body.clone(), &[("idempotency-key", "sub-1")]).await;
    let b = post_form(&h, &id, body.clone(), &[("idempotency-key", "sub-1")]).await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(b.status, StatusCode::CREATED);
    assert_eq!(a.text, b.text);
    h.settle().await;
    let all = items(&h).await;
    assert_eq!(all.len(), 1);
    let runs = h
        .get(
            KEY_A,
            &format!("/v1/items/{}/runs", all[0]["id"].as_str().unwrap()),
        )
        .await;
    let evals = runs.body["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["event_type"] == "form_submitted")
        .count();
    assert_eq!(evals, 1);
    // A new key is a new submission (the same client: the open item is matched).
    post_form(&h, &id, body, &[("idempotency-key", "sub-2")]).await;
    h.settle().await;
    assert_eq!(items(&h).await.len(), 1);
}

#[tokio::test]
async fn the_page_and_the_embed_script_render_the_form() {
    let h = harness();
    h.seed(KEY_A).await;
    let mut body = form_body();
    body["name"] = json!("<b>Contact</b> & us");
    let r = h.post(KEY_A, "/v1/forms", body).await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let page = get_public(&h, &format!("/f/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    for needle in [
        format!("action=\"/f/{id}\""),
        "name=\"email\" type=\"email\"".to_string(),
        "required".to_string(),
        "name=\"website\"".to_string(),
        "name=\"crm_v\"".to_string(),
        "<textarea name=\"message\"".to_string(),
        "&lt;b&gt;Contact&lt;/b&gt; &amp; us".to_string(),
    ] {
        assert!(page.text.contains(&needle), "{needle} not in the page");
    }
    assert!(!page.text.contains("<b>Contact"), "the name is escaped");
    assert!(
        !page.text.contains("http://") && !page.text.contains("https://"),
        "no external assets"
    );
    let js = get_public(&h, &format!("/f/{id}/embed.js")).await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(
        js.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(js.text.contains(&format!("/f/{id}")));
    assert!(js.text.contains("currentScript"));
    // The page posts without JavaScript too: an HTML answer.
    let r = post_urlencoded(&h, &id, "email=ann%40example.test", "text/html,*/*").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("Thanks, we will call you."));
}
