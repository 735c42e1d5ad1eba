//! The api function: API Gateway HTTP API (payload format 2.0) in front of
//! the same axum [`Router`] as the local server ([`crm_http::router`]), with
//! the engine on the AWS ports. `POST /v1/events` validates an external
//! event, gives it an idempotency key and sends it to the events SQS queue
//! (answering 202); trigger evaluation happens in the trigger-eval function.
//!
//! API keys are looked up by their SHA-256 hash in the DynamoDB keys table
//! (`CRM_KEYS_TABLE`, [`crm_aws::DynamoApiKeys`]) through an in-process cache
//! (30 s: a warm function reads each key at most twice a minute; a revoked
//! key stops working within 30 s). The function may only read that table;
//! keys are added with `crm-automation keys add --aws --table …`. Each
//! tenant's requests are limited by a token bucket (`CRM_TENANT_RATE`,
//! `CRM_TENANT_BURST`; 429 with `Retry-After` beyond it) per warm instance,
//! behind API Gateway's stage throttle.

pub use crm_aws::wiring;

use std::sync::Arc;

use axum::Router;
use crm_core::Engine;
use crm_core::api_keys::ApiKeyStore;
use crm_http::{ApiKeys, AppState, CachedKeys, KeyCacheConfig, TenantThrottle, ThrottleConfig};
use lambda_http::tower::ServiceExt;
use lambda_http::{Body, IntoResponse, Request, Response};

/// Environment variable with the sustained requests per second per tenant
/// (0: no limit).
pub const TENANT_RATE_VAR: &str = "CRM_TENANT_RATE";
/// Environment variable with the burst per tenant.
pub const TENANT_BURST_VAR: &str = "CRM_TENANT_BURST";

/// Configuration errors of the api function.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A number variable does not parse.
    #[error("{name}: expected a whole number ≥ 0, got '{value}'")]
    InvalidNumber {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
    },
    /// The keys table is not named.
    #[error(transparent)]
    Aws(#[from] crm_aws::AwsError),
}

/// How the api function authenticates and limits callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ApiSettings {
    /// The per-tenant limit.
    pub throttle: ThrottleConfig,
    /// The key cache.
    pub key_cache: KeyCacheConfig,
}

/// The settings from `get` (`CRM_TENANT_RATE`, `CRM_TENANT_BURST`; defaults
/// [`ThrottleConfig::DEFAULT`]).
pub fn settings_from_lookup(
    get: impl Fn(&str) -> Option<String>,
) -> Result<ApiSettings, ConfigError> {
    let number = |name: &'static str, default: u32| -> Result<u32, ConfigError> {
        match get(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
        {
            None => Ok(default),
            Some(value) => value
                .parse()
                .map_err(|_| ConfigError::InvalidNumber { name, value }),
        }
    };
    Ok(ApiSettings {
        throttle: ThrottleConfig {
            rate: number(TENANT_RATE_VAR, ThrottleConfig::DEFAULT.rate)?,
            burst: number(TENANT_BURST_VAR, ThrottleConfig::DEFAULT.burst)?,
        },
        key_cache: KeyCacheConfig::default(),
    })
}

/// The settings from the process environment.
pub fn settings_from_env() -> Result<ApiSettings, ConfigError> {
    settings_from_lookup(|name| std::env::var(name).ok())
}

/// The HTTP API router over `engine` accepting only `keys` (given in code:
/// tests), without a limit.
pub fn app(engine: Arc<Engine>, keys: ApiKeys) -> Router {
    with_source_ip(crm_http::router(AppState::new(engine, keys)))
}

/// The HTTP API router of the deployed function: keys from `store` through
/// the cache, the per-tenant limit of `settings`.
pub fn app_on_store(
    engine: Arc<Engine>,
    store: Arc<dyn ApiKeyStore>,
    settings: ApiSettings,
) -> Router {
    let mut state = AppState::new(engine, ApiKeys::none())
        .with_key_store(CachedKeys::new(store, settings.key_cache));
    if settings.throttle.is_enabled() {
        state = state.with_throttle(TenantThrottle::new(settings.throttle));
    }
    with_source_ip(crm_http::router(state))
}

/// The router with API Gateway's `requestContext.http.sourceIp` as axum's
/// `ConnectInfo` on every request: the client address the public endpoints
/// (web forms, the tracker's beacon) are limited by.
fn with_source_ip(router: Router) -> Router {
    router.layer(axum::middleware::from_fn(source_ip))
}

async fn source_ip(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use lambda_http::RequestExt as _;
    use lambda_http::request::RequestContext;
    let ip = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(c)) => c.http.source_ip.as_deref(),
        _ => None,
    }
    .and_then(|ip| ip.parse::<std::net::IpAddr>().ok());
    if let Some(ip) = ip {
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::new(ip, 0)));
    }
    next.run(request).await
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
