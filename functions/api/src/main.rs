//! Lambda entry point of the api function (API Gateway HTTP API): JSON logs,
//! the engine on the AWS ports and the API keys (`CRM_API_KEYS`) loaded once
//! per cold start, then the crm-http router for every request.

use std::sync::Arc;

use crm_fn_api::{app, keys_from_env, wiring};
use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    wiring::init_tracing();
    let keys = keys_from_env()?;
    let engine = Arc::new(wiring::engine_from_env().await?);
    tracing::info!(keys = keys.len(), "api ready");
    lambda_http::run(app(engine, keys)).await
}
