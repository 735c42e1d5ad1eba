//! Open and click tracking of robot emails (issue #15): public routes, no
//! API key. `GET /t/o/{token}` (the pixel) raises `email_read`, `GET
//! /t/c/{token}` (a link) raises `email_link_clicked` with `data.url` and
//! redirects to the URL inside the signed token — never anywhere else. A
//! malformed or forged token, or one of the other kind, is answered 403 and
//! changes nothing (the pixel's 403 still carries the GIF, so that no email
//! shows a broken image). Limited per client address ([`crate::ip_limit`]).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use crm_core::tracking::{TrackError, TrackKind};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, EXPIRES, LOCATION, PRAGMA, REFERRER_POLICY};
use http::{HeaderValue, StatusCode};

use crate::error::{ApiError, ErrorBody};
use crate::handlers::documents::BinaryFile;
use crate::ip_limit::{IpLimiter, limit_per_ip};
use crate::state::AppState;

/// A 1×1 transparent GIF (43 bytes).
pub const PIXEL_GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

const NO_CACHE: &str = "no-store, no-cache, must-revalidate, max-age=0";

/// The tracking routes with their per-address limit.
pub fn routes(limiter: Arc<IpLimiter>) -> Router<AppState> {
    Router::new()
        .route("/t/o/{token}", get(open))
        .route("/t/c/{token}", get(click))
        .route_layer(middleware::from_fn_with_state(limiter, limit_per_ip))
}

fn pixel(status: StatusCode) -> Response {
    (
        status,
        [
            (CONTENT_TYPE, "image/gif"),
            (CACHE_CONTROL, NO_CACHE),
            (PRAGMA, "no-cache"),
            (EXPIRES, "0"),
        ],
        PIXEL_GIF,
    )
        .into_response()
}

/// The token in the path; one that cannot be read (not UTF-8) is "" (and
/// refused as forged, like any other bad token).
pub struct TokenPath(String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for TokenPath {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let token = Path::<String>::from_request_parts(parts, state)
            .await
            .map_or_else(|_| String::new(), |Path(t)| t);
        Ok(TokenPath(token))
    }
}

/// The tracking pixel of an email: raises `email_read` for its item.
#[utoipa::path(
    get,
    path = "/t/o/{token}",
    tag = "tracking",
    params(("token" = String, Path, description = "The signed token of the email's pixel")),
    responses(
        (status = 200, description = "A 1×1 transparent GIF (`image/gif`, not cacheable); `email_read` is raised for the email's item, once per email",
            content((BinaryFile = "image/gif"))),
        (status = 403, description = "Malformed, forged or unknown token: the same GIF, nothing happens",
            content((BinaryFile = "image/gif"))),
        (status = 429, description = "Over the per-address limit (60 a minute); `Retry-After`", body = ErrorBody),
    )
)]
pub async fn open(State(state): State<AppState>, token: TokenPath) -> Response {
    match state.engine.track(TrackKind::Open, &token.0).await {
        Ok(_) => pixel(StatusCode::OK),
        Err(TrackError::Forged) => pixel(StatusCode::FORBIDDEN),
        Err(TrackError::Engine(e)) => ApiError::from(e).into_response(),
    }
}

/// A tracked link of an email: raises `email_link_clicked` with `data.url`
/// for its item and redirects to the original URL.
#[utoipa::path(
    get,
    path = "/t/c/{token}",
    tag = "tracking",
    params(("token" = String, Path, description = "The signed token of one link of the email")),
    responses(
        (status = 302, description = "To the link's original URL (only the one signed into the token); `email_link_clicked` with `data.url` is raised, once per link of an email"),
        (status = 403, description = "Malformed, forged or unknown token: no redirect, nothing happens", body = ErrorBody),
        (status = 429, description = "Over the per-address limit (60 a minute); `Retry-After`", body = ErrorBody),
    )
)]
pub async fn click(State(state): State<AppState>, token: TokenPath) -> Response {
    let forbidden = || ApiError::forbidden("unknown tracking link").into_response();
    match state.engine.track(TrackKind::Click, &token.0).await {
        Ok(hit) => {
            let Some(location) = hit.url.and_then(|u| HeaderValue::try_from(u).ok()) else {
                return forbidden();
            };
            let mut r = StatusCode::FOUND.into_response();
            let h = r.headers_mut();
            h.insert(LOCATION, location);
            h.insert(CACHE_CONTROL, HeaderValue::from_static(NO_CACHE));
            h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
            r
        }
        Err(TrackError::Forged) => forbidden(),
        Err(TrackError::Engine(e)) => ApiError::from(e).into_response(),
    }
}
