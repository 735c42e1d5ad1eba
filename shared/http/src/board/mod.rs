//! The board: the web interface (automation board, kanban, item page,
//! directory, "what the robots did", clock bar), served by the same router
//! as the API. Small hand-written scripts over the JSON API, one file per
//! page or concept — no build step, no third-party code: the files are
//! compiled into the binary, so the `api` Lambda serves them too. Every
//! interface text is in `strings.js` (English and Russian).

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};

use crate::state::AppState;

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The page itself, at `/`.
const INDEX: &str = include_str!("index.html");

/// Every file under `/board/`: name, content type, content. `index.html`
/// loads the scripts in this order (each adds to `window.Board`; `app.js`,
/// the router, last).
const FILES: &[(&str, &str, &str)] = &[
    ("style.css", CSS, include_str!("style.css")),
    ("reports.css", CSS, include_str!("reports.css")),
    ("strings.js", JS, include_str!("strings.js")),
    ("core.js", JS, include_str!("core.js")),
    ("api.js", JS, include_str!("api.js")),
    ("pager.js", JS, include_str!("pager.js")),
    ("words.js", JS, include_str!("words.js")),
    ("forms.js", JS, include_str!("forms.js")),
    ("pickers.js", JS, include_str!("pickers.js")),
    ("clock.js", JS, include_str!("clock.js")),
    ("session.js", JS, include_str!("session.js")),
    (
        "condition_builder.js",
        JS,
        include_str!("condition_builder.js"),
    ),
    ("automation_form.js", JS, include_str!("automation_form.js")),
    ("automation.js", JS, include_str!("automation.js")),
    ("kanban.js", JS, include_str!("kanban.js")),
    ("item.js", JS, include_str!("item.js")),
    ("directory.js", JS, include_str!("directory.js")),
    ("activity.js", JS, include_str!("activity.js")),
    ("documents.js", JS, include_str!("documents.js")),
    ("channels.js", JS, include_str!("channels.js")),
    ("reports.js", JS, include_str!("reports.js")),
    ("app.js", JS, include_str!("app.js")),
];

/// One static file with its content type; `no-cache` so a new binary's
/// files are picked up at once.
fn file(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")],
        body,
    )
}

/// The page, saying whether this server runs on a manual clock (`<body
/// data-clock="manual">`): the clock bar then asks for the time, and a
/// server on the system clock is not asked at all (its `GET /v1/clock`
/// answers 404, which a browser would log as an error).
fn page(manual_clock: bool) -> String {
    let clock = if manual_clock { "manual" } else { "system" };
    INDEX.replacen("<body>", &format!("<body data-clock=\"{clock}\">"), 1)
}

/// `/` (the page) and `/board/<file>` for each of [`FILES`]; any other
/// `/board/…` path falls through to the API's 404.
pub fn routes() -> Router<AppState> {
    let index = get(|State(state): State<AppState>| async move {
        (
            [(CONTENT_TYPE, HTML), (CACHE_CONTROL, "no-cache")],
            page(state.clock.is_some()),
        )
    });
    FILES.iter().fold(
        Router::new().route("/", index),
        |router, &(name, content_type, body)| {
            router.route(
                &format!("/board/{name}"),
                get(move || async move { file(content_type, body) }),
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page loads exactly the served files, scripts in [`FILES`] order.
    #[test]
    fn the_page_loads_every_served_file_in_order() {
        let loaded: Vec<&str> = INDEX
            .split("/board/")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap_or_default())
            .collect();
        let served: Vec<&str> = FILES.iter().map(|f| f.0).collect();
        assert_eq!(loaded, served);
    }

    /// The page tells the scripts which clock the server runs on.
    #[test]
    fn the_page_says_which_clock_the_server_runs_on() {
        assert!(page(true).contains("<body data-clock=\"manual\">"));
        assert!(page(false).contains("<body data-clock=\"system\">"));
        assert_eq!(page(true).matches("data-clock").count(), 1);
    }

    /// Every script is strict and adds to the one `window.Board` object,
    /// and every string key a script asks for exists in both languages.
    #[test]
    fn every_script_uses_known_strings_in_both_languages() {
        let strings = FILES
            .iter()
            .find(|f| f.0 == "strings.js")
            .map(|f| f.2)
            .unwrap_or_default();
        let (en, ru) = strings.split_once("\n  ru: {").expect("two languages");
        for &(name, _, body) in FILES.iter().filter(|f| f.0.ends_with(".js")) {
            if name == "strings.js" {
                continue;
            }
            assert!(body.contains("\"use strict\";"), "{name} is strict");
            assert!(body.contains("window.Board"), "{name} adds to window.Board");
            // t("some.key") / B.t("some.key", …), not split("…"): literal keys.
            for (at, _) in body.match_indices("t(\"") {
                let before = body[..at].chars().next_back().unwrap_or(' ');
                if before.is_alphanumeric() || before == '_' {
                    continue;
                }
                let key = body[at + 3..].split('"').next().unwrap_or_default();
                if key.ends_with('.') || key.ends_with('_') || key.is_empty() {
                    continue; // a prefix: t("status." + status)
                }
                let quoted = format!("\"{key}\"");
                assert!(en.contains(&quoted), "{name}: {key} missing in English");
                assert!(ru.contains(&quoted), "{name}: {key} missing in Russian");
            }
        }
    }
}
