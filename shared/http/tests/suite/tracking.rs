//! Open and click tracking of robot emails (issue #15) through the router
//! on the in-memory engine: the pixel and a link of a real email move the
//! deal through `email_read` and `email_link_clicked` triggers; forged
//! tokens change nothing; a pipeline with tracking off sends the email as
//! written.

use crate::common;

use axum::body::Body;
use common::*;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const PUBLIC: &str = "https://crm.example";

const HTML: &str = concat!(
    "<html><body><p>Hello {{client.name}},</p>",
    r#"<p>See our <a href="https://shop.example/pricing?plan=pro&amp;seats=5">prices</a>"#,
    r#" or <a href='https://shop.example/about'>about us</a>, <a href="mailto:sales@acme.test">mail</a>.</p>"#,
    "</body></html>"
);

/// GET without a key; status, headers, raw body.
async fn hit(h: &Harness, path: &str) -> (StatusCode, http::HeaderMap, Vec<u8>) {
    let request = Request::get(path).body(Body::empty()).unwrap();
    let r = h.app.clone().oneshot(request).await.unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    let body = r.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, headers, body)
}

async fn setup(tracking: Option<bool>) -> (Harness, String) {
    let h = harness();
    h.rig.engine.set_public_url(&format!("{PUBLIC}/"));
    h.seed(KEY_A).await;
    if let Some(on) = tracking {
        let mut p = crm_core::testing::pipeline(crm_core::testing::PIPELINE);
        p["email_tracking"] = json!(on);
        let r = h.put(KEY_A, "/v1/pipelines/deals", p).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["email_tracking"], on);
    }
    for (path, body) in [
        (
            "/v1/pipelines/deals/robots",
            json!({"stage_id": "new", "type": "email_client",
                "settings": {"subject": "Our offer", "text": HTML}}),
        ),
        (
            "/v1/pipelines/deals/triggers",
            json!({"stage_id": "prep", "type": "email_read"}),
        ),
        (
            "/v1/pipelines/deals/triggers",
            json!({"stage_id": "presentation", "type": "email_link_clicked",
                "settings": {"url_contains": "pricing"}}),
        ),
    ] {
        let r = h.post(KEY_A, path, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let r = h
        .post(KEY_A, "/v1/items", crm_core::testing::deal("new", 1000.0))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    h.settle().await;
    (h, id)
}

async fn email_body(h: &Harness) -> String {
    let r = h.get(KEY_A, "/v1/outbox?channel=email").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let messages = r.body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    messages[0]["body"].as_str().unwrap().to_string()
}

async fn stage(h: &Harness, id: &str) -> Value {
    h.get(KEY_A, &format!("/v1/items/{id}")).await.body["stage_id"].clone()
}

/// The paths (`/t/…/token`) of the tracking URLs of `kind` (`o` or `c`).
fn tracked(body: &str, kind: &str) -> Vec<String> {
    let prefix = format!("{PUBLIC}/t/{kind}/");
    body.match_indices(&prefix)
        .map(|(at, _)| {
            let rest = &body[at + PUBLIC.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

fn forge(path: &str) -> String {
    // Change one character of the signature.
    let mut b = path.as_bytes().to_vec();
    let last = b.len() - 3;
    b[last] = if b[last] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).unwrap()
}

#[tokio::test]
async fn the_pixel_and_a_link_move_the_deal_and_forged_tokens_change_nothing() {
    let (h, id) = setup(None).await;
    let body = email_body(&h).await;
    assert!(
        body.starts_with("<html><body><p>Hello Romashka LLC,</p>"),
        "{body}"
    );
    let pixels = tracked(&body, "o");
    let links = tracked(&body, "c");
    assert_eq!(pixels.len(), 1, "{body}");
    assert_eq!(links.len(), 2, "{body}");
    assert!(
        body.contains(r#"<img src="https://crm.example/t/o/"#),
        "{body}"
    );
    assert!(
        body.contains("</p><img "),
        "the pixel is before </body>: {body}"
    );
    assert!(!body.contains("shop.example"), "{body}");
    assert!(body.contains(r#"href="mailto:sales@acme.test""#), "{body}");
    assert_eq!(stage(&h, &id).await, "new");

    // Forged tokens: 403, nothing happens (the pixel still answers a GIF).
    let (status, headers, gif) = hit(&h, &forge(&pixels[0])).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(headers["content-type"], "image/gif");
    assert!(gif.starts_with(b"GIF89a"));
    let (status, headers, _) = hit(&h, &forge(&links[0])).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(headers.get("location").is_none());
    // A pixel token on the click route (and the reverse) is refused too.
    let swapped = pixels[0].replace("/t/o/", "/t/c/");
    assert_eq!(hit(&h, &swapped).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        hit(&h, &links[0].replace("/t/c/", "/t/o/")).await.0,
        StatusCode::FORBIDDEN
    );
    for junk in ["/t/o/x", "/t/c/x.y", "/t/c/%FF"] {
        assert_eq!(hit(&h, junk).await.0, StatusCode::FORBIDDEN, "{junk}");
    }
    h.advance(chrono::Duration::minutes(5)).await;
    assert_eq!(stage(&h, &id).await, "new", "forged tokens moved nothing");

    // The open: a no-cache GIF, and the deal moves to `prep`.
    let (status, headers, gif) = hit(&h, &pixels[0]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/gif");
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("no-store")
    );
    assert_eq!(gif.len(), 43);
    h.advance(chrono::Duration::minutes(1)).await;
    assert_eq!(stage(&h, &id).await, "prep");

    // The "about" link: redirected, but `url_contains: pricing` does not match.
    let (about, pricing) = (&links[1], &links[0]);
    let (status, headers, _) = hit(&h, about).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(headers["location"], "https://shop.example/about");
    h.advance(chrono::Duration::minutes(1)).await;
    assert_eq!(stage(&h, &id).await, "prep");

    // The pricing link: to the original URL (entities decoded), and the
    // deal moves to `presentation`.
    let (status, headers, _) = hit(&h, pricing).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(
        headers["location"],
        "https://shop.example/pricing?plan=pro&seats=5"
    );
    h.advance(chrono::Duration::minutes(1)).await;
    assert_eq!(stage(&h, &id).await, "presentation");

    // The deal is moved back by hand; opening the email again fires
    // nothing new (one `email_read` per email).
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
    assert_eq!(hit(&h, &pixels[0]).await.0, StatusCode::OK);
    h.advance(chrono::Duration::minutes(1)).await;
    assert_eq!(stage(&h, &id).await, "new", "a second open fires nothing");
}

#[tokio::test]
async fn a_token_of_one_tenant_cannot_reach_another() {
    let (h, id) = setup(None).await;
    let body = email_body(&h).await;
    let pixel = &tracked(&body, "o")[0];
    // Re-sign nothing: claim tenant-b in the payload, keep A's signature.
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let token = pixel.trim_start_matches("/t/o/");
    let (payload, tag) = token.split_once('.').unwrap();
    let mut p: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(p["t"], "tenant-a");
    p["t"] = json!("tenant-b");
    let forged = format!(
        "/t/o/{}.{tag}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&p).unwrap())
    );
    assert_eq!(hit(&h, &forged).await.0, StatusCode::FORBIDDEN);
    h.advance(chrono::Duration::minutes(1)).await;
    assert_eq!(stage(&h, &id).await, "new");
}

#[tokio::test]
async fn tracking_off_sends_the_email_as_written() {
    let (h, id) = setup(Some(false)).await;
    let body = email_body(&h).await;
    assert!(!body.contains("/t/"), "{body}");
    assert!(body.contains(r#"href="https://shop.example/pricing?plan=pro&amp;seats=5""#));
    assert_eq!(stage(&h, &id).await, "new");
    // Bad values are refused, naming the field.
    let mut p = crm_core::testing::pipeline(crm_core::testing::PIPELINE);
    p["email_tracking"] = json!("yes");
    let r = h.put(KEY_A, "/v1/pipelines/deals", p).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("email_tracking")
            || r.fields().contains(&"email_tracking".to_string()),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn tracking_is_on_by_default_and_shown_on_the_pipeline() {
    let h = harness();
    h.seed(KEY_A).await;
    let r = h.get(KEY_A, "/v1/pipelines/deals").await;
    assert_eq!(r.body["email_tracking"], true, "{}", r.body);
}

#[tokio::test]
async fn the_tracking_routes_are_limited_per_address() {
    let h = harness();
    let mut last = StatusCode::OK;
    for _ in 0..61 {
        let request = Request::get("/t/o/x")
            .header("x-forwarded-for", "198.51.100.9")
            .body(Body::empty())
            .unwrap();
        let r = h.app.clone().oneshot(request).await.unwrap();
        last = r.status();
        if last == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.headers().contains_key("retry-after"));
            break;
        }
        assert_eq!(last, StatusCode::FORBIDDEN);
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    // Another address is not limited.
    let request = Request::get("/t/o/x")
        .header("x-forwarded-for", "198.51.100.10")
        .body(Body::empty())
        .unwrap();
    let r = h.app.clone().oneshot(request).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}
