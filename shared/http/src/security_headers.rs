//! Headers every answer carries, so that a browser never second-guesses
//! what it got: `X-Content-Type-Options: nosniff` (a JSON error or a
//! document file is never run as a script or page), `Referrer-Policy:
//! no-referrer` (a tracked link's token never leaks to the site it
//! redirects to), `X-Frame-Options: DENY`; and on HTML pages (the board,
//! a hosted form) a Content-Security-Policy that allows scripts, styles,
//! images and requests from this origin only, no framing and no `<base>`.
//! Inline styles stay allowed: the hosted form page and the board's charts
//! use them; inline scripts do not.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;
use http::header::{
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};

/// The policy of the product's HTML pages.
pub const PAGE_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

/// Adds the headers to the answer (a handler's own value of one wins).
pub async fn add(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let is_html = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let headers = response.headers_mut();
    let fixed = [
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (REFERRER_POLICY, "no-referrer"),
        (X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in fixed {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    if is_html {
        headers
            .entry(CONTENT_SECURITY_POLICY)
            .or_insert(HeaderValue::from_static(PAGE_POLICY));
    }
    response
}
