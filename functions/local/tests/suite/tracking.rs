//! Email open and click tracking (issue #15) on the local server over real
//! HTTP: the client's email carries a pixel and tracked links pointing at
//! the server itself; fetching them moves the deal through `email_read`
//! and `email_link_clicked`; a forged token changes nothing.

use crate::common;

use common::*;
use serde_json::json;

/// The absolute URLs of `kind` (`o`, `c`) in an email body.
fn urls(body: &str, base: &str, kind: &str) -> Vec<String> {
    let prefix = format!("{base}/t/{kind}/");
    body.match_indices(&prefix)
        .map(|(at, _)| {
            let rest = &body[at..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_the_email_and_clicking_its_pricing_link_moves_the_deal_twice() {
    let (_dir, server, api, _other) = started(MONDAY_1144_MSK).await;
    let base = server.base_url();
    api.robot(json!({"stage_id": "new", "type": "email_client", "settings": {
        "subject": "Offer",
        "text": "<html><body><p>Dear {{client.name}}, our <a href=\"https://shop.example/pricing?x=1&amp;y=2\">prices</a>.</p></body></html>"}}))
        .await;
    api.trigger(json!({"stage_id": "prep", "type": "email_read"}))
        .await;
    api.trigger(
        json!({"stage_id": "presentation", "type": "email_link_clicked",
        "settings": {"url_contains": "pricing"}}),
    )
    .await;
    let item = api.deal("new", 100.0).await;
    let emails = api.all_pages("/v1/outbox?channel=email", "messages").await;
    assert_eq!(emails.len(), 1, "{emails:#?}");
    let body = emails[0]["body"].as_str().unwrap();
    let (pixel, link) = (urls(body, &base, "o"), urls(body, &base, "c"));
    assert_eq!((pixel.len(), link.len()), (1, 1), "{body}");
    assert!(!body.contains("shop.example"), "{body}");

    // Public routes: no key, no redirect following.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let stage = |api: Api, item: String| async move {
        api.get(&format!("/v1/items/{item}")).await["stage_id"].clone()
    };

    // A forged pixel: 403 with the GIF, nothing moves.
    let mut forged = pixel[0].clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let r = http.get(&forged).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["content-type"], "image/gif");
    api.advance(60).await;
    assert_eq!(stage(api.clone(), item.clone()).await, "new");

    let r = http.get(&pixel[0]).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/gif");
    assert_eq!(r.bytes().await.unwrap().len(), 43);
    api.advance(60).await;
    assert_eq!(stage(api.clone(), item.clone()).await, "prep");

    let r = http.get(&link[0]).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(
        r.headers()["location"],
        "https://shop.example/pricing?x=1&y=2"
    );
    api.advance(60).await;
    assert_eq!(stage(api.clone(), item.clone()).await, "presentation");

    // The email_link_clicked event carries the URL.
    let timeline = api.timeline(&item).await;
    assert!(
        timeline
            .iter()
            .any(|e| e["kind"] == "stage_changed" && e["data"]["to"] == "presentation"),
        "{timeline:#?}"
    );
    server.shutdown().await.unwrap();
}
