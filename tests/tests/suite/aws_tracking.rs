//! Email open and click tracking (issue #15) on the AWS function set
//! (LocalStack): the runner composes the client email with a pixel and
//! tracked links (key kept in DynamoDB), the api function's router answers
//! them and raises the events through SQS, and trigger-eval moves the deal.

use std::sync::Arc;

use axum::body::Body;
use crm_core::model::Channel;
use crm_core::testing::{MONDAY_1144_MSK, at, body};
use crm_http::{ApiKeys, AppState, router};
use crm_tests::aws_rig::AwsRig;
use http::{Request, StatusCode};
use serde_json::json;
use tower::ServiceExt;

const PUBLIC: &str = "https://api.example";

async fn get(app: &axum::Router, path: &str) -> (StatusCode, http::HeaderMap) {
    let r = app
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    (r.status(), r.headers().clone())
}

#[tokio::test]
async fn the_pixel_and_a_link_move_the_deal_through_the_functions() {
    let rig = AwsRig::new("tracking", at(MONDAY_1144_MSK)).await;
    crm_core::testing::load(&rig.engine, &rig.tenant)
        .await
        .expect("the company loads");
    rig.engine.set_public_url(PUBLIC);
    let t = rig.tenant.clone();
    rig.engine
        .create_robot(
            &t,
            "deals",
            body(
                json!({"stage_id": "new", "type": "email_client", "settings": {
                "text": "<p>Our <a href=\"https://shop.example/pricing\">prices</a></p>"}}),
            ),
        )
        .await
        .unwrap();
    for tr in [
        json!({"stage_id": "prep", "type": "email_read"}),
        json!({"stage_id": "presentation", "type": "email_link_clicked",
            "settings": {"url_contains": "pricing"}}),
    ] {
        rig.engine
            .create_trigger(&t, "deals", body(tr))
            .await
            .unwrap();
    }
    let item = rig
        .engine
        .create_item(&t, body(crm_core::testing::deal("new", 1.0)))
        .await
        .unwrap();
    rig.settle().await;
    let emails = rig
        .engine
        .list_outbound(&t, Some(Channel::Email))
        .await
        .unwrap();
    assert_eq!(emails.len(), 1);
    let b = &emails[0].body;
    let path = |kind: &str| {
        let at = b.find(&format!("{PUBLIC}/t/{kind}/")).expect(kind) + PUBLIC.len();
        b[at..at + b[at..].find('"').unwrap()].to_string()
    };
    let (pixel, link) = (path("o"), path("c"));

    // The api function's router (keys do not matter: the routes are public).
    let app = router(AppState::new(
        Arc::new(rig.engine.clone()),
        ApiKeys::parse("other:key-x").unwrap(),
    ));
    let forged = format!("{}A", &link[..link.len() - 1]);
    let forged = if forged == link {
        format!("{}B", &link[..link.len() - 1])
    } else {
        forged
    };
    assert_eq!(get(&app, &forged).await.0, StatusCode::FORBIDDEN);
    rig.settle().await;
    let stage = || async { rig.engine.get_item(&t, &item.id).await.unwrap().stage_id };
    assert_eq!(stage().await, "new");

    let (status, headers) = get(&app, &pixel).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/gif");
    rig.settle().await;
    assert_eq!(stage().await, "prep");

    let (status, headers) = get(&app, &link).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(headers["location"], "https://shop.example/pricing");
    rig.settle().await;
    assert_eq!(stage().await, "presentation");
    rig.teardown().await;
}
