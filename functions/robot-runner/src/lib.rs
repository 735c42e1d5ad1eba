//! The robot-runner function: runs planned robot runs ([`Job`]s) with
//! [`Engine::run_job`], which claims the run idempotently (conditional write
//! keyed by the run id, with an expiring claim), re-reads the item, checks the
//! visit is still current and the condition holds, performs the action and
//! writes the outputs and the run record.
//!
//! It has two sources, told apart by the payload ([`Invocation::from_payload`]):
//!
//! - the robot-actions SQS queue (immediate robots): an `SqsEvent` whose
//!   message bodies are `Job` JSON. Failures are reported per message
//!   (`SqsBatchResponse`): a malformed body, an engine error and
//!   [`RunOutcome::Busy`] (another runner holds a live claim, or the run waits
//!   for its previous robot) make the message visible again after the
//!   visibility timeout (and, after `maxReceiveCount`, move it to the DLQ).
//!   No new message is started within [`DEADLINE_RESERVE`] of the Lambda
//!   deadline; the rest is reported as failed.
//! - EventBridge Scheduler (delayed robots): the target input is the `Job`
//!   JSON itself. Busy and engine errors fail the invocation so that it is
//!   retried (and dead-lettered when the retries are exhausted).
//!
//! Every other outcome (finished now, already finished by an earlier
//! delivery, rescheduled because it arrived early, unknown run) is a success:
//! repeating it would change nothing.

pub use crm_aws::lambda::{DEADLINE_RESERVE, deadline_of};
pub use crm_aws::wiring;

use std::time::SystemTime;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use crm_aws::lambda::{MessageFailure, process_sqs_batch};
use crm_core::Engine;
use crm_core::RunOutcome;
use crm_core::error::EngineError;
use crm_core::model::RunStatus;
use crm_core::ports::Job;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use tracing::{error, info, warn};

/// Why a job (one SQS message, or one scheduler invocation) did not complete.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The payload is neither an SQS event nor a job.
    #[error("invalid payload: {0}")]
    Payload(#[source] serde_json::Error),
    /// The SQS message has no body.
    #[error("message has no body")]
    NoBody,
    /// Another runner holds a live claim on the run, or the run waits for its
    /// previous robot: retry later.
    #[error("run {run_id} is busy; retry later")]
    Busy {
        /// The run's id.
        run_id: String,
    },
    /// The engine failed (store, queue or scheduler unavailable, …); the
    /// claim expires, so a retry takes over.
    #[error("run {run_id} failed: {source}")]
    Engine {
        /// The run's id.
        run_id: String,
        /// The engine's error.
        #[source]
        source: EngineError,
    },
}

impl RunnerError {
    /// Name of the variant, reported to Lambda as the error type.
    pub fn kind(&self) -> &'static str {
        match self {
            RunnerError::Payload(_) => "RunnerError::Payload",
            RunnerError::NoBody => "RunnerError::NoBody",
            RunnerError::Busy { .. } => "RunnerError::Busy",
            RunnerError::Engine { .. } => "RunnerError::Engine",
        }
    }

    /// A retry cannot help (the message is malformed).
    pub fn is_malformed(&self) -> bool {
        matches!(self, RunnerError::Payload(_) | RunnerError::NoBody)
    }
}

impl MessageFailure for RunnerError {
    fn is_malformed(&self) -> bool {
        RunnerError::is_malformed(self)
    }
}

impl From<RunnerError> for Diagnostic {
    fn from(e: RunnerError) -> Diagnostic {
        Diagnostic {
            error_type: e.kind().to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// What the function was invoked with.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// A batch of the robot-actions queue.
    Sqs(SqsEvent),
    /// One job, delivered by EventBridge Scheduler.
    Scheduled(Job),
}

impl Invocation {
    /// An SQS event if the payload has `Records`, else a job.
    pub fn from_payload(payload: Value) -> Result<Invocation, RunnerError> {
        if payload.get("Records").is_some() {
            serde_json::from_value(payload)
                .map(Invocation::Sqs)
                .map_err(RunnerError::Payload)
        } else {
            serde_json::from_value(payload)
                .map(Invocation::Scheduled)
                .map_err(RunnerError::Payload)
        }
    }
}

/// The result of one job run to completion (or found already complete).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// The run's id.
    pub run_id: String,
    /// `finished`, `already_finished`, `rescheduled` or `unknown`.
    pub outcome: &'static str,
    /// The final status reached now (`finished` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<RunStatus>,
}

/// The function's response: a batch response for SQS, a report for a job.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Response {
    /// Partial batch failures of an SQS invocation.
    Batch(SqsBatchResponse),
    /// The report of a scheduler invocation.
    Run(RunReport),
}

/// Run one job; `Busy` and engine errors are errors (retry later).
pub async fn run(engine: &Engine, job: Job) -> Result<RunReport, RunnerError> {
    let run_id = job.run_id.clone();
    let outcome = engine
        .run_job(job)
        .await
        .map_err(|source| RunnerError::Engine {
            run_id: run_id.clone(),
            source,
        })?;
    let (outcome, status) = match outcome {
        RunOutcome::Finished(status) => ("finished", Some(status)),
        RunOutcome::AlreadyFinished => ("already_finished", None),
        RunOutcome::Rescheduled => ("rescheduled", None),
        RunOutcome::Unknown => ("unknown", None),
        RunOutcome::Busy => return Err(RunnerError::Busy { run_id }),
    };
    info!(%run_id, outcome, ?status, "job done");
    Ok(RunReport {
        run_id,
        outcome,
        status,
    })
}

/// Decode one message's job and run it.
pub async fn process_message(
    engine: &Engine,
    message: &SqsMessage,
) -> Result<RunReport, RunnerError> {
    let body = message.body.as_deref().ok_or(RunnerError::NoBody)?;
    let job: Job = serde_json::from_str(body).map_err(RunnerError::Payload)?;
    run(engine, job).await
}

/// Process a batch of the robot-actions queue in order; report every failed
/// (or not started) message.
pub async fn process_batch(
    engine: &Engine,
    event: &SqsEvent,
    deadline: Option<SystemTime>,
) -> SqsBatchResponse {
    process_sqs_batch(event, deadline, "job", |m| async move {
        process_message(engine, &m).await.map(|_| ())
    })
    .await
}

/// The Lambda handler: dispatch on the payload (SQS batch or scheduled job).
///
/// An SQS batch never fails as a whole (failures are reported per message);
/// a scheduled job fails when it is busy, the engine fails or the payload is
/// not a job, so that its invocation is retried and finally dead-lettered.
pub async fn handler(engine: &Engine, event: LambdaEvent<Value>) -> Result<Response, RunnerError> {
    let deadline = deadline_of(&event.context);
    match Invocation::from_payload(event.payload) {
        Ok(Invocation::Sqs(batch)) => Ok(Response::Batch(
            process_batch(engine, &batch, deadline).await,
        )),
        Ok(Invocation::Scheduled(job)) => run(engine, job).await.map(Response::Run).inspect_err(
            |e| warn!(error = %e, "scheduled job not done; the invocation is retried"),
        ),
        Err(e) => {
            error!(error = %e, "invocation payload is neither an SQS event nor a job");
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests;
