//! Lambda entry point of the trigger-eval function (events SQS queue source):
//! JSON logs, the engine on the AWS ports built once per cold start, then
//! [`crm_fn_trigger_eval::handle_invocation`] for every batch (SQS) or
//! delivery of SES notifications (SNS).

use crm_fn_trigger_eval::{handle_invocation, wiring};
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    wiring::init_tracing();
    let engine = wiring::engine_from_env().await?;
    let s3 = wiring::s3_from_env().await?;
    let (engine, s3) = (&engine, &s3);
    lambda_runtime::run(service_fn(move |event| {
        handle_invocation(engine, s3, event)
    }))
    .await
}
