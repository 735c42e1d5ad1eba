//! The public, keyless endpoints of issue #15: web forms (`/f/{form_id}`),
//! the site tracker (`/t/tracker.js`, `/t/v`) and payment webhooks
//! (`/v1/webhooks/payments/{provider}/{endpoint_id}`).
//!
//! None takes an API key; each finds its tenant from an unguessable public
//! id (one `_system` point read), answers the same for an unknown id as for
//! a deleted one, never names a tenant, and is limited per client IP (and
//! form or endpoint) by [`PublicLimiter`].

use axum::Router;
use axum::routing::{get, post};
use http::request::Parts;

use crate::error::ApiError;
use crate::state::AppState;

pub mod form_page;
pub mod forms;
pub mod payments;
pub mod rate_limit;
pub mod tracker;

pub use rate_limit::{Limit, PublicLimiter};

/// The public routes (merged into the API router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/f/{form_id}", get(forms::form_page).post(forms::submit))
        .route("/f/{form_id}/embed.js", get(forms::embed_js))
        .route("/t/tracker.js", get(tracker::tracker_js))
        .route("/t/v", post(tracker::beacon))
        .route(
            "/v1/webhooks/payments/{provider}/{endpoint_id}",
            post(payments::receive),
        )
}

/// The client's address ([`crate::ip_limit::client_ip_of`]: the same for
/// every public route).
pub fn client_ip(parts: &Parts) -> String {
    crate::ip_limit::client_ip_of(&parts.extensions, &parts.headers)
}

/// Count one request of `key` under `limit` (429 with `Retry-After` when over).
pub(crate) fn limit(state: &AppState, key: &str, limit: Limit) -> Result<(), ApiError> {
    state.public_limits.check(key, limit).map_err(|secs| {
        ApiError::rate_limited(
            secs,
            format!("too many requests from this address; retry after {secs} s"),
        )
    })
}

/// Escape text for HTML (element content and quoted attribute values).
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_ip_is_the_last_forwarded_entry() {
        let (parts, _) = http::Request::builder()
            .header("x-forwarded-for", "6.6.6.6, 10.0.0.1")
            .body(())
            .unwrap()
            .into_parts();
        assert_eq!(client_ip(&parts), "10.0.0.1");
        let (parts, _) = http::Request::builder().body(()).unwrap().into_parts();
        assert_eq!(client_ip(&parts), "unknown");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            html_escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
