//! Every answer tells the browser not to sniff, frame or leak it; the HTML
//! pages carry a Content-Security-Policy that keeps scripts to this origin.

use axum::body::Body;
use http::{Request, StatusCode};

use crate::common::*;

async fn get(h: &Harness, path: &str, key: Option<&str>) -> (StatusCode, http::HeaderMap, String) {
    let mut b = Request::builder().uri(path);
    if let Some(k) = key {
        b = b.header("authorization", format!("Bearer {k}"));
    }
    h.send_text(b.body(Body::empty()).unwrap()).await
}

fn header<'a>(headers: &'a http::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_else(|| panic!("no {name} header in {headers:?}"))
}

#[tokio::test]
async fn the_board_page_carries_a_policy_that_keeps_scripts_to_this_origin() {
    let h = harness();
    let (status, headers, text) = get(&h, "/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("<html"), "{text}");
    let csp = header(&headers, "content-security-policy");
    for part in [
        "script-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(part), "{part} in {csp}");
    }
    assert!(!csp.contains("'unsafe-eval'"), "{csp}");
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    assert_eq!(header(&headers, "x-frame-options"), "DENY");
    assert_eq!(header(&headers, "referrer-policy"), "no-referrer");
}

#[tokio::test]
async fn json_answers_and_errors_are_never_sniffed_and_carry_no_page_policy() {
    let h = harness();
    for (path, key, expected) in [
        ("/v1/catalogue", Some(KEY_A), StatusCode::OK),
        ("/v1/catalogue", None, StatusCode::UNAUTHORIZED),
        ("/v1/no-such-route", Some(KEY_A), StatusCode::NOT_FOUND),
    ] {
        let (status, headers, _) = get(&h, path, key).await;
        assert_eq!(status, expected, "{path}");
        assert_eq!(
            header(&headers, "x-content-type-options"),
            "nosniff",
            "{path}"
        );
        assert_eq!(header(&headers, "referrer-policy"), "no-referrer", "{path}");
        assert!(headers.get("content-security-policy").is_none(), "{path}");
    }
}
