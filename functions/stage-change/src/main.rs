//! Lambda entry point of the stage-change function (DynamoDB Streams source,
//! and the sweeper's one-minute schedule): JSON logs, the engine on the AWS
//! ports and the outbox index built once per cold start, then
//! [`crm_fn_stage_change::invoke`] for every invocation.

use crm_aws::{AwsPorts, OutboxIndex};
use crm_fn_stage_change::{StageChange, invoke, wiring};
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    wiring::init_tracing();
    let aws = AwsPorts::from_env().await?;
    let function = StageChange {
        engine: wiring::engine_on(&aws),
        index: OutboxIndex::new(aws.clients.dynamodb.clone(), aws.config.table.clone()),
    };
    let function = &function;
    lambda_runtime::run(service_fn(move |event| invoke(function, event))).await
}
