//! The board: the web interface (automation board, kanban, item page, clock
//! bar), served by the same router as the API. It is a small hand-written
//! script over the JSON API — no build step, no third-party code: the
//! files are compiled into the binary, so the `api` Lambda serves them too.
//! Every interface text is in `strings.js` (English and Russian).

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};

use crate::state::AppState;

const INDEX: &str = include_str!("index.html");
const APP: &str = include_str!("app.js");
const STRINGS: &str = include_str!("strings.js");
const STYLE: &str = include_str!("style.css");
const REPORTS: &str = include_str!("reports.js");
const REPORTS_STYLE: &str = include_str!("reports.css");

/// One static file with its content type; `no-cache` so a new binary's
/// files are picked up at once.
fn file(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")],
        body,
    )
}

/// `/` (the page) and `/board/{app.js,strings.js,style.css}`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/",
            get(|| async { file("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/board/app.js",
            get(|| async { file("text/javascript; charset=utf-8", APP) }),
        )
        .route(
            "/board/strings.js",
            get(|| async { file("text/javascript; charset=utf-8", STRINGS) }),
        )
        .route(
            "/board/style.css",
            get(|| async { file("text/css; charset=utf-8", STYLE) }),
        )
        .route(
            "/board/reports.js",
            get(|| async { file("text/javascript; charset=utf-8", REPORTS) }),
        )
        .route(
            "/board/reports.css",
            get(|| async { file("text/css; charset=utf-8", REPORTS_STYLE) }),
        )
}
