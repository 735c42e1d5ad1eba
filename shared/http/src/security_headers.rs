//! Headers every answer carries, so that a browser never second-guesses
//! what it got: `X-Content-Type-Options: nosniff` (a JSON error or a
//! document file is never run as a script or page), `Referrer-Policy:
//! no-referrer` (a tracked link's token never leaks to the site it
//! redirects to), `X-Frame-Options: DENY`; and on HTML pages (the board,
//! a hosted form) a Content-Security-Policy that allows scripts, styles,
//! images and requests from this origin only, no framing and no `<base>`.
//! Inline styles stay allowed: the hosted form page and the board's charts
//! use them; inline scripts do not, but for the hosted form page's one
//! script, allowed by its hash.

use std::sync::LazyLock;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use http::HeaderValue;
use http::header::{
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use sha2::{Digest, Sha256};

/// The policy of the product's HTML pages. Scripts: this origin's files,
/// and the one inline script of the hosted form page (by its SHA-256: the
/// visitor id and posting in place, the same on every form's page).
pub static PAGE_POLICY: LazyLock<HeaderValue> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(
        crate::public::form_page::hosted_script().as_bytes(),
    ));
    HeaderValue::from_str(&format!(
        "default-src 'self'; script-src 'self' 'sha256-{hash}'; \
style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
    ))
    .expect("the policy is a header value")
});

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
            .or_insert(PAGE_POLICY.clone());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::public::form_page::{form_page, hosted_script};

    /// The hosted form page's one inline script is the one the policy
    /// allows (a changed script changes the hash with it), and no other.
    #[test]
    fn the_page_policy_allows_exactly_the_hosted_forms_script() {
        let form: crm_core::web_forms::WebForm = serde_json::from_value(serde_json::json!({
            "id": "wf_0123456789abcdef0123456789abcdef", "name": "Contact us",
            "fields": [{"name": "email", "label": "E-mail", "type": "email", "required": true}],
            "pipeline_id": "deals", "stage_id": "new", "entity_type": "deal",
            "responsible_id": "u-anna", "success_message": "Thanks",
            "created_at": "2026-11-23T08:44:00Z", "updated_at": "2026-11-23T08:44:00Z"}))
        .unwrap();
        let page = form_page(&form);
        let scripts: Vec<&str> = page
            .split("<script>")
            .skip(1)
            .map(|s| s.split("</script>").next().unwrap())
            .collect();
        assert_eq!(scripts, [hosted_script().as_str()]);
        let hash =
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(scripts[0].as_bytes()));
        let policy = PAGE_POLICY.to_str().unwrap();
        assert!(
            policy.contains(&format!("script-src 'self' 'sha256-{hash}';")),
            "{policy}"
        );
        let scripts_policy = policy
            .split("script-src")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap();
        assert!(!scripts_policy.contains("unsafe-inline"), "{policy}");
    }
}
