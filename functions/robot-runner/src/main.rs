//! Lambda entry point of the robot-runner function (the robot-actions SQS
//! queue, which EventBridge Scheduler's schedules also send to): JSON logs, the engine on the AWS ports
//! built once per cold start, then [`crm_fn_robot_runner::handler`] for every
//! invocation.

use crm_fn_robot_runner::{handler, wiring};
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    wiring::init_tracing();
    let engine = wiring::engine_from_env().await?;
    let engine = &engine;
    lambda_runtime::run(service_fn(move |event| handler(engine, event))).await
}
