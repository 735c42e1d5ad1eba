//! Lambda entry point of the api function (API Gateway HTTP API): JSON logs,
//! the engine on the AWS ports and the keys table (`CRM_KEYS_TABLE`, read
//! through a cache) set up once per cold start, then the crm-http router for
//! every request.

use std::sync::Arc;

use crm_aws::api_keys::keys_table_from_lookup;
use crm_aws::{AwsPorts, DynamoApiKeys};
use crm_fn_api::{app_on_store, settings_from_env, wiring};
use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    wiring::init_tracing();
    let settings = settings_from_env()?;
    let table = keys_table_from_lookup(|name| std::env::var(name).ok())?;
    let aws = AwsPorts::from_env().await?;
    let keys = DynamoApiKeys::new(aws.clients.dynamodb.clone(), table);
    let engine = wiring::engine_on(&aws);
    // `GET /v1/inbound-email` shows the tenant's inbound address (issue #15).
    wiring::set_inbound_domain_from_env(&engine);
    let engine = Arc::new(engine);
    tracing::info!(keys_table = keys.table(), throttle = ?settings.throttle, "api ready");
    lambda_http::run(app_on_store(engine, Arc::new(keys), settings)).await
}
