//! Request handlers: parse → one engine call → response.

use axum::response::{IntoResponse, Response};
use http::header::LOCATION;
use http::{HeaderValue, StatusCode};
use serde::Serialize;

use crate::extract::Json;

pub mod audiences;
pub mod automation;
pub mod catalogue;
pub mod directory;
pub mod documents;
pub mod forms;
pub mod inbound_email;
pub mod items;
pub mod lists;
pub mod me;
pub mod meta;
pub mod outbox;
pub mod payment_providers;
pub mod reports;
pub mod rest_webhooks;
pub mod robot_order;
pub mod robot_types;
pub mod run_control;
pub mod site_keys;
pub mod tracking;
pub mod webhooks;
pub mod work;

/// 201 with the created record and a `Location` header.
pub(crate) fn created<T: Serialize>(location: String, body: T) -> Response {
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(value) = HeaderValue::try_from(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// Percent-encodes one path segment (everything but RFC 3986 unreserved
/// characters).
pub(crate) fn segment(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn segments_are_encoded() {
        assert_eq!(super::segment("i-1_a.b~"), "i-1_a.b~");
        assert_eq!(super::segment("a/b c"), "a%2Fb%20c");
        assert_eq!(super::segment("ж"), "%D0%B6");
    }
}
