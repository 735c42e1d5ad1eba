//! The api function: API Gateway HTTP API (payload format 2.0) in front of
//! the same axum [`Router`] as the local server ([`crm_http::router`]), with
//! the engine on the AWS ports. `POST /v1/events` validates an external
//! event, gives it an idempotency key and sends it to the events SQS queue
//! (answering 202); trigger evaluation happens in the trigger-eval function.
//!
//! API keys come from `CRM_API_KEYS` (`tenant:key[,tenant:key…]`, see
//! [`ApiKeys::parse`]).

pub use crm_aws::wiring;

use std::sync::Arc;

use axum::Router;
use crm_core::Engine;
use crm_http::{ApiKeys, AppState};
use lambda_http::tower::ServiceExt;
use lambda_http::{Body, IntoResponse, Request, Response};

/// Name of the environment variable with the API keys.
pub const API_KEYS_VAR: &str = "CRM_API_KEYS";

/// Configuration errors of the api function.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `CRM_API_KEYS` is not set (or empty).
    #[error("{API_KEYS_VAR} is not set (expected tenant:key[,tenant:key…])")]
    MissingKeys,
    /// `CRM_API_KEYS` does not parse.
    #[error("{API_KEYS_VAR}: {0}")]
    InvalidKeys(String),
}

/// The API keys from `get(CRM_API_KEYS)`.
pub fn keys_from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<ApiKeys, ConfigError> {
    let spec = get(API_KEYS_VAR)
        .filter(|s| !s.trim().is_empty())
        .ok_or(ConfigError::MissingKeys)?;
    ApiKeys::parse(&spec).map_err(ConfigError::InvalidKeys)
}

/// The API keys from the process environment.
pub fn keys_from_env() -> Result<ApiKeys, ConfigError> {
    keys_from_lookup(|name| std::env::var(name).ok())
}

/// The HTTP API router over `engine`, accepting `keys`.
pub fn app(engine: Arc<Engine>, keys: ApiKeys) -> Router {
    crm_http::router(AppState::new(engine, keys))
}

/// Serve one request (as `lambda_http` decodes it from an API Gateway event)
/// with `router`, and turn the answer into the response `lambda_http`
/// encodes for API Gateway. This is what [`lambda_http::run`] does for each
/// invocation; tests call it in-process.
pub async fn handle(router: &Router, request: Request) -> Response<Body> {
    let Ok(response) = router.clone().oneshot(request).await;
    response.into_response().await
}

#[cfg(test)]
mod tests;
