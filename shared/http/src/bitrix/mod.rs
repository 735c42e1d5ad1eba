//! The Bitrix24 REST adapter (issue #16): integrators that drive Bitrix24
//! automation triggers through an incoming-webhook URL or the official SDKs
//! (b24pysdk, @bitrix24/b24jssdk) call this server by changing the base URL
//! and the secret.
//!
//! `GET|POST /rest/{user_id}/{secret}/{method}[.json][/]`:
//! - `{user_id}/{secret}`: an inbound-webhook credential of a tenant
//!   (`POST /v1/rest-webhooks`); a wrong, revoked or unknown pair → 401
//!   `invalid_token`, without saying which;
//! - `{method}`: case-insensitive, see [`methods::METHODS`]; other → 404
//!   `ERROR_METHOD_NOT_FOUND`;
//! - parameters from the query string, a JSON body or a PHP-style form body
//!   ([`params`]), keys case-insensitive, unknown ones ignored;
//! - answers in the Bitrix envelope ([`envelope`]); over the tenant's rate
//!   → 503 `QUERY_LIMIT_EXCEEDED` (the SDKs retry);
//! - `Idempotency-Key`: the same key (per method) queues the event once.

pub mod envelope;
pub mod methods;
pub mod params;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, Uri};

use crate::state::AppState;
use envelope::{BitrixError, Started};
use methods::{Call, dispatch};
use params::Params;

/// The routes of the adapter (merged into [`crate::router`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/rest/{user_id}/{secret}/{method}", get(call).post(call))
        .route("/rest/{user_id}/{secret}/{method}/", get(call).post(call))
}

/// The method name of the path's last segment: lower-cased, without a
/// `.json` suffix.
pub fn method_name(segment: &str) -> String {
    let lower = segment.trim().to_ascii_lowercase();
    lower
        .strip_suffix(".json")
        .map(str::to_string)
        .unwrap_or(lower)
}

/// One call of a Bitrix method (documented in the OpenAPI document as
/// `/rest/{user_id}/{secret}/{method}`).
#[utoipa::path(
    method(get, post),
    path = "/rest/{user_id}/{secret}/{method}",
    tag = "bitrix",
    params(
        ("user_id" = String, Path, description = "The credential's number (`id` of `POST /v1/rest-webhooks`)"),
        ("secret" = String, Path, description = "The credential's secret"),
        ("method" = String, Path, description = "`crm.automation.trigger`, `crm.automation.trigger.add`, `.list`, `.delete` or `.execute`; case-insensitive, optionally with `.json`"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key (per method) queues the event once"),
    ),
    request_body(
        content = crate::schemas::BitrixParams,
        description = "The method's parameters as JSON or form-encoded (PHP-style arrays: `fields[A][B]=…`); GET takes them from the query string (`…/crm.automation.trigger/?target=DEAL_57&code=paid`). Keys are case-insensitive.",
        example = json!({"CODE": "payment", "OWNER_TYPE_ID": 2, "OWNER_ID": "item-0001"})
    ),
    responses(
        (status = 200, description = "`{\"result\": …, \"time\": {\"start\", \"finish\", \"duration\", \"processing\", \"date_start\", \"date_finish\"}}`", body = crate::schemas::BitrixAnswer),
        (status = 400, description = "`ERROR_ARGUMENT` (a required parameter missing) or `INVALID_ARG_VALUE`", body = crate::schemas::BitrixErrorBody),
        (status = 401, description = "`invalid_token`: wrong, revoked or unknown credential", body = crate::schemas::BitrixErrorBody),
        (status = 404, description = "`ERROR_METHOD_NOT_FOUND`, or `NOT_FOUND` (no such item of that entity type, or an unregistered trigger code)", body = crate::schemas::BitrixErrorBody),
        (status = 413, description = "The body exceeds 256 KiB", body = crate::schemas::BitrixErrorBody),
        (status = 503, description = "`QUERY_LIMIT_EXCEEDED` (over the tenant's rate; retry) or `OVERLOAD_LIMIT`", body = crate::schemas::BitrixErrorBody),
    ),
)]
pub async fn call(
    State(state): State<AppState>,
    path: Result<Path<(String, String, String)>, axum::extract::rejection::PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Started::at(state.engine.now());
    match run(&state, path, &uri, &headers, body).await {
        Ok(result) => envelope::answer(result, started),
        Err(e) => e.into_response(),
    }
}

async fn run(
    state: &AppState,
    path: Result<Path<(String, String, String)>, axum::extract::rejection::PathRejection>,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<serde_json::Value, BitrixError> {
    let Ok(Path((user_id, secret, method))) = path else {
        return Err(BitrixError::invalid_token());
    };
    let caller = state
        .engine
        .authenticate_rest_webhook(&user_id, &secret)
        .await?
        .ok_or_else(BitrixError::invalid_token)?;
    if let Some(throttle) = &state.throttle
        && throttle.check(&caller.tenant).is_err()
    {
        return Err(BitrixError::query_limit());
    }
    let body = body.map_err(|_| BitrixError::too_large(crate::MAX_BODY_BYTES))?;
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let params = Params::read(uri.query(), content_type, &body)
        .map_err(|e| BitrixError::invalid_arg(e.to_string()))?;
    let idempotency_key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty());
    if idempotency_key.is_some_and(|k| k.len() > 200) {
        return Err(BitrixError::invalid_arg(
            "Idempotency-Key has at most 200 characters",
        ));
    }
    let method = method_name(&method);
    dispatch(Call {
        engine: &state.engine,
        caller: &caller,
        method: &method,
        params: &params,
        idempotency_key,
    })
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn method_names_are_case_insensitive_with_an_optional_json_suffix() {
        assert_eq!(
            super::method_name("CRM.Automation.Trigger.JSON"),
            "crm.automation.trigger"
        );
        assert_eq!(
            super::method_name("crm.automation.trigger.add"),
            "crm.automation.trigger.add"
        );
    }
}
