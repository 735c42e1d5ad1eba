//! Lambda entry point of the trigger-eval function (events SQS queue source):
//! JSON logs, the engine on the AWS ports built once per cold start, then
//! [`crm_fn_trigger_eval::handler`] for every batch.

use crm_fn_trigger_eval::{handler, wiring};
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    wiring::init_tracing();
    let engine = wiring::engine_from_env().await?;
    let engine = &engine;
    lambda_runtime::run(service_fn(move |event| handler(engine, event))).await
}
