//! Health, the OpenAPI document, the manual clock and the fallbacks.

use std::sync::OnceLock;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method, StatusCode, Uri};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::schemas;
use crate::state::{AppState, ClockControl};
use crate::views::{AdvanceBody, ClockNow, Health};

/// Largest accepted `seconds` of a clock advance: ten years.
pub const MAX_ADVANCE_SECONDS: i64 = 10 * 366 * 24 * 3600;

/// Liveness: 200 when the service can serve. Needs no key.
#[utoipa::path(
    get,
    path = "/v1/health",
    tag = "meta",
    responses((status = 200, description = "`{\"status\": \"ok\"}`", body = schemas::Health)),
    security(())
)]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".to_string(),
    })
}

/// This OpenAPI document. Needs no key.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = schemas::OpenApiDocument)),
    security(())
)]
pub async fn openapi_json() -> Response {
    static DOC: OnceLock<Result<String, String>> = OnceLock::new();
    let doc = DOC.get_or_init(|| {
        serde_json::to_string(&crate::openapi::openapi()).map_err(|e| e.to_string())
    });
    match doc {
        Ok(json) => (
            [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            json.clone(),
        )
            .into_response(),
        Err(cause) => {
            tracing::error!(%cause, "the OpenAPI document does not serialize");
            ApiError::internal().into_response()
        }
    }
}

fn clock_of(state: &AppState) -> Result<&dyn ClockControl, ApiError> {
    state
        .clock
        .as_deref()
        .ok_or_else(|| ApiError::not_found("this server does not run on a manual clock"))
}

/// The manual clock's time (local server started with a manual clock only).
/// Any tenant's key or the admin key may read it.
#[utoipa::path(
    get,
    path = "/v1/clock",
    tag = "clock",
    responses(
        (status = 200, description = "`{\"now\"}`", body = schemas::ClockNow),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
        (status = 404, description = "The server runs on the system clock", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_clock(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<ClockNow>, ApiError> {
    let clock = clock_of(&state)?;
    Ok(Json(ClockNow { now: clock.now() }))
}

/// Move the manual clock forward and run everything due by the new time
/// before answering (`seconds: 0` only runs what is already due).
///
/// Needs the admin key (`CRM_ADMIN_KEY`, or the one generated into the data
/// directory): the clock is shared by every tenant, so a tenant's key gets
/// 403. The clock never goes back, also not across a restart of the server.
#[utoipa::path(
    post,
    path = "/v1/clock/advance",
    tag = "clock",
    request_body(content = schemas::AdvanceBody, content_type = "application/json",
        example = json!({"seconds": 86400})),
    responses(
        (status = 200, description = "`{\"now\"}` after everything due has run", body = schemas::ClockNow),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
        (status = 403, description = "A tenant's key: only the admin key moves the clock", body = ErrorBody),
        (status = 404, description = "The server runs on the system clock", body = ErrorBody),
        (status = 422, description = "`seconds` negative or too large", body = ErrorBody),
    ),
    security(("admin" = []))
)]
pub async fn advance_clock(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<AdvanceBody>, ApiError>,
) -> Result<Json<ClockNow>, ApiError> {
    // 404 first: without a manual clock the body does not matter.
    let clock = clock_of(&state)?;
    if let Caller::Tenant(key) = caller {
        tracing::debug!(tenant = %key.tenant, "clock advance refused to a tenant key");
        return Err(ApiError::forbidden(
            "only the admin key moves the clock (it is shared by every tenant); \
             use CRM_ADMIN_KEY or the key in the data directory's admin-key file",
        ));
    }
    let Json(body) = body?;
    if body.seconds < 0 {
        return Err(ApiError::unprocessable("seconds", "must be 0 or more"));
    }
    if body.seconds > MAX_ADVANCE_SECONDS {
        return Err(ApiError::unprocessable(
            "seconds",
            format!("must be at most {MAX_ADVANCE_SECONDS} (ten years)"),
        ));
    }
    match clock.advance(body.seconds).await {
        Ok(now) => Ok(Json(ClockNow { now })),
        Err(cause) => {
            tracing::error!(seconds = body.seconds, %cause, "clock advance failed");
            Err(ApiError::internal())
        }
    }
}

/// Unknown route → 404 in the common error shape.
pub async fn route_not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {}", uri.path()))
}

/// Known route, wrong method → 405 in the common error shape.
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}
