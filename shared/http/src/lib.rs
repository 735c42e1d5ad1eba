//! crm-http: the HTTP API v1 (`API.md`) as an axum [`Router`] over the engine.
//!
//! The same router is served by the `api` Lambda (through `lambda_http`) and
//! by the local one-process server. Handlers are thin: authenticate (the
//! tenant comes from the API key), parse, call the [`Engine`], answer.
//! Every failure is an [`ApiError`] with the body
//! `{"error": {"code", "message", "details": [{"field", "message"}]}}`.

#![warn(missing_docs)]

use std::time::{Duration, Instant};

use http_body_util::BodyExt as _;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};

pub mod auth;
pub mod bitrix;
pub mod board;
pub mod error;
pub mod extract;
pub mod handlers;
pub mod ip_limit;
pub mod key_cache;
pub mod openapi;
pub mod public;
pub mod schemas;
pub mod security_headers;
pub mod state;
pub mod throttle;
pub mod ticker;
pub mod views;
pub mod write_gate;

pub use auth::{ApiKeys, Tenant};
pub use crm_core::Engine;
pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use key_cache::{CachedKeys, KeyCacheConfig};
pub use openapi::{ApiDoc, openapi};
pub use state::{AppState, ClockControl};
pub use throttle::{TenantThrottle, ThrottleConfig};
pub use ticker::{ManualTicker, SystemTicker, Ticker};
pub use write_gate::{WriteGate, is_write};

use handlers::{
    audiences, automation, catalogue, directory, documents, forms, items, lists, me, meta, outbox,
    payment_providers, reports, rest_webhooks, robot_order, robot_types, run_control, site_keys,
    webhooks, work,
};

/// Largest accepted request body: 256 KiB (larger → 413).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The API v1 router with every endpoint of `API.md`, the 404/405
/// fallbacks, the body limit and request logging.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/health", get(meta::health))
        .route("/v1/openapi.json", get(meta::openapi_json))
        .route("/v1/catalogue", get(catalogue::catalogue))
        .route("/v1/clock", get(meta::get_clock))
        .route("/v1/clock/advance", post(meta::advance_clock))
        .route("/v1/directory", put(directory::put_directory))
        .route(
            "/v1/departments/{id}",
            put(directory::put_department).get(directory::get_department),
        )
        .route(
            "/v1/users/{id}",
            put(directory::put_user).get(directory::get_user),
        )
        .route(
            "/v1/pipelines/{id}",
            put(automation::put_pipeline).get(automation::get_pipeline),
        )
        .route(
            "/v1/pipelines/{id}/robots",
            post(automation::create_robot).get(automation::list_robots),
        )
        .route(
            "/v1/pipelines/{id}/robots/{robot_id}",
            get(automation::get_robot)
                .put(automation::update_robot)
                .delete(automation::delete_robot),
        )
        .route(
            "/v1/pipelines/{id}/robots/{robot_id}/copy",
            post(automation::copy_robot),
        )
        .route(
            "/v1/pipelines/{id}/triggers",
            post(automation::create_trigger).get(automation::list_triggers),
        )
        .route(
            "/v1/pipelines/{id}/triggers/{trigger_id}",
            get(automation::get_trigger)
                .put(automation::update_trigger)
                .delete(automation::delete_trigger),
        )
        .route(
            "/v1/pipelines/{id}/triggers/{trigger_id}/copy",
            post(automation::copy_trigger),
        )
        .route("/v1/items", post(items::create_item).get(items::list_items))
        .route(
            "/v1/items/{id}",
            get(items::get_item)
                .patch(items::patch_item)
                .delete(items::delete_item),
        )
        .route("/v1/items/{id}/timeline", get(items::timeline))
        .route("/v1/items/{id}/runs", get(items::runs))
        .route("/v1/events", post(work::submit_event))
        .route("/v1/events/{id}", get(work::get_event))
        .route("/v1/tasks", get(work::list_tasks))
        .route(
            "/v1/tasks/{id}",
            get(work::get_task).patch(work::patch_task),
        )
        .route("/v1/activities", get(work::list_activities))
        .route("/v1/notifications", get(work::list_notifications))
        .route("/v1/chats/{id}", get(work::get_chat))
        .route("/v1/messages", get(work::list_messages))
        .route("/v1/feed", get(work::list_feed))
        .route("/v1/outbox", get(work::list_outbound))
        .route("/v1/outbox/{id}/retry", post(outbox::retry_outbound))
        .route("/v1/audiences", get(audiences::list_audiences))
        .route(
            "/v1/audiences/{network}/{audience_id}/members",
            get(audiences::list_audience_members),
        )
        .route(
            "/v1/document-templates",
            post(documents::create_template)
                .layer(DefaultBodyLimit::max(documents::TEMPLATE_BODY_BYTES))
                .get(documents::list_templates),
        )
        .route(
            "/v1/document-templates/{id}",
            get(documents::get_template)
                .put(documents::replace_template)
                .layer(DefaultBodyLimit::max(documents::TEMPLATE_BODY_BYTES))
                .delete(documents::delete_template),
        )
        .route(
            "/v1/document-templates/{id}/file",
            get(documents::template_file),
        )
        .route("/v1/document-placeholders", get(documents::placeholders))
        .route(
            "/v1/numerators",
            post(documents::create_numerator).get(documents::list_numerators),
        )
        .route(
            "/v1/numerators/{id}",
            get(documents::get_numerator)
                .put(documents::update_numerator)
                .delete(documents::delete_numerator),
        )
        .route("/v1/documents", get(documents::list_documents))
        .route("/v1/documents/{id}", get(documents::get_document))
        .route("/v1/documents/{id}/file", get(documents::document_file))
        .route("/v1/me", get(me::me))
        .route("/v1/users", get(lists::list_users))
        .route("/v1/departments", get(lists::list_departments))
        .route("/v1/chats", get(lists::list_chats))
        .route("/v1/items/run-summary", get(run_control::run_summary))
        .route(
            "/v1/items/{id}/runs/{run_id}/run-now",
            post(run_control::run_now),
        )
        .route(
            "/v1/items/{id}/stop-automation",
            post(run_control::stop_automation),
        )
        .route(
            "/v1/pipelines/{id}/stages/{stage_id}/robot-order",
            put(robot_order::put_robot_order),
        )
        .route("/v1/reports/stage-time", get(reports::stage_time))
        .route("/v1/reports/conversion", get(reports::conversion))
        .route("/v1/reports/robots", get(reports::robots))
        .route("/v1/webhook-secret", get(webhooks::get_secret))
        .route("/v1/webhook-secret/rotate", post(webhooks::rotate_secret))
        .route(
            "/v1/rest-webhooks",
            post(rest_webhooks::create_rest_webhook).get(rest_webhooks::list_rest_webhooks),
        )
        .route(
            "/v1/rest-webhooks/{id}",
            axum::routing::delete(rest_webhooks::revoke_rest_webhook),
        )
        .route(
            "/v1/robot-types",
            post(robot_types::create_robot_type).get(robot_types::list_robot_types),
        )
        .route(
            "/v1/robot-types/{code}",
            get(robot_types::get_robot_type)
                .put(robot_types::update_robot_type)
                .delete(robot_types::delete_robot_type),
        )
        .route(
            "/v1/robot-events/{token}",
            post(robot_types::answer_robot_event),
        )
        .route("/v1/forms", post(forms::create_form).get(forms::list_forms))
        .route(
            "/v1/forms/{id}",
            get(forms::get_form)
                .put(forms::replace_form)
                .delete(forms::delete_form),
        )
        .route(
            "/v1/site-keys",
            post(site_keys::create_site_key).get(site_keys::list_site_keys),
        )
        .route(
            "/v1/site-keys/{id}",
            axum::routing::delete(site_keys::delete_site_key),
        )
        .route(
            "/v1/payment-providers/{provider}",
            put(payment_providers::put_provider)
                .get(payment_providers::get_provider)
                .delete(payment_providers::delete_provider),
        )
        .route(
            "/v1/inbound-email",
            get(handlers::inbound_email::get_inbound_email),
        )
        .merge(public::routes())
        .merge(bitrix::routes())
        .merge(board::routes())
        .merge(handlers::tracking::routes(Default::default()))
        .fallback(meta::route_not_found)
        .method_not_allowed_fallback(meta::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(reject_oversized_body))
        .layer(middleware::from_fn(log_request))
        .layer(middleware::from_fn(security_headers::add))
        .with_state(state)
}

/// How long a request announced over the limit is drained before its 413.
const DRAIN_WINDOW: Duration = Duration::from_secs(1);
/// How much of such a request is drained at most.
const DRAIN_MAX_BYTES: usize = 4 * MAX_BODY_BYTES;

/// A request whose `Content-Length` announces more than [`MAX_BODY_BYTES`]
/// is answered 413 without being handled, within [`DRAIN_WINDOW`]: a client
/// that announces a large body and then sends less must not hold the request
/// open until a timeout. What arrives meanwhile (up to [`DRAIN_MAX_BYTES`]) is
/// read and dropped, so that the connection is not reset under a client
/// that is still sending before it has read the answer.
async fn reject_oversized_body(request: Request, next: Next) -> Response {
    let announced = request
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let limit = documents::body_limit(request.uri().path()).unwrap_or(MAX_BODY_BYTES);
    if announced.is_none_or(|n| n <= limit as u64) {
        return next.run(request).await;
    }
    let mut body = request.into_body();
    let _ = tokio::time::timeout(DRAIN_WINDOW, async {
        let mut seen = 0;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len());
            if seen > DRAIN_MAX_BYTES {
                break;
            }
        }
    })
    .await;
    if limit == MAX_BODY_BYTES {
        extract::payload_too_large().into_response()
    } else {
        ApiError::new(
            http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body exceeds {} MiB", limit >> 20),
        )
        .into_response()
    }
}

/// One debug line per request: method, route template, status, duration.
/// Never logs headers (API keys) or bodies.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| request.uri().path().to_owned());
    let response = next.run(request).await;
    tracing::debug!(
        %method,
        %route,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}
