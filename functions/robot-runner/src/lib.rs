//! The robot-runner function: runs planned robot runs ([`Job`]s) with
//! [`Engine::run_job`], which reads the run and its item, checks the visit is
//! still current and the condition holds, performs the action and commits its
//! writes with the final run record in one transaction guarded by the run
//! record's version and the item's version (no claim is written first since
//! issue #11: overlapping deliveries compute twice and commit once).
//!
//! Its one source is the robot-actions SQS queue: immediate robots (sent by
//! the stage-change step), robots due within 15 minutes (sent with
//! `DelaySeconds`) and delayed robots (EventBridge Scheduler's target is the
//! queue; the schedule's input, the `Job` JSON, is the message body). So every
//! run shares one retry, takeover and dead-letter path, and the queue's DLQ
//! holds only `Job` bodies (as does the schedules' DLQ: redrivable here).
//!
//! A message is one run, or (issue #11) a visit job: the runs of one stage
//! change that were due at once, in robot order ([`Job::then`]), run by
//! [`Engine::run_visit_job`] and committed together; each run gets its own
//! log line and metric ([`run_all`]).
//!
//! Per message (failures reported with `SqsBatchResponse`):
//!
//! - finished now, already finished, unknown run → acknowledged;
//! - arrived before the run's due time → put back for exactly the rest
//!   (queue delay up to 15 minutes, else a new schedule), acknowledged;
//! - another runner's claim is live (a record written before issue #11) → the
//!   job is sent again, delayed until the claim expires, and this message
//!   acknowledged: a live claim never burns
//!   the message's receive budget, and a crashed runner's work is taken over
//!   by that delayed copy;
//! - the run waits for its previous robot (no due time yet) → acknowledged:
//!   the previous robot's final commit readies it and dispatches a new job;
//! - a malformed body or an engine error (store or queue unavailable) →
//!   reported, so the message comes back after the visibility timeout (and
//!   goes to the DLQ after `maxReceiveCount`). A run whose writes the store
//!   rejects for good is made `failed` by the engine, not retried.
//!
//! No new message is started within [`DEADLINE_RESERVE`] of the Lambda
//! deadline; the rest is reported as failed. Every outcome is written as a
//! CloudWatch EMF metric line ([`crm_aws::metrics`]).

pub use crm_aws::lambda::{DEADLINE_RESERVE, deadline_of};
pub use crm_aws::wiring;

use std::time::SystemTime;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use crm_aws::lambda::{MessageFailure, process_sqs_batch};
use crm_aws::metrics::RunMetric;
use crm_core::Engine;
use crm_core::error::EngineError;
use crm_core::model::RunStatus;
use crm_core::ports::Job;
use crm_core::{RunOutcome, job_outcome};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use tracing::{error, info};

/// Why a job (one SQS message) did not complete.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The payload is not an SQS event, or a body is not a job.
    #[error("invalid payload: {0}")]
    Payload(#[source] serde_json::Error),
    /// The SQS message has no body.
    #[error("message has no body")]
    NoBody,
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

/// The result of one job: what happened to it (the message is acknowledged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// The run's id.
    pub run_id: String,
    /// `finished`, `already_finished`, `rescheduled`, `claimed`, `waiting`
    /// or `unknown`.
    pub outcome: &'static str,
    /// The final status reached now (`finished` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<RunStatus>,
}

/// The `Function` dimension of the runner's metrics when not on Lambda.
pub const FUNCTION: &str = "robot-runner";

/// The `Function` dimension: the deployed function's name (Lambda's
/// `AWS_LAMBDA_FUNCTION_NAME`, so two stacks in one account do not mix their
/// figures and the template's lateness alarm can name it), else [`FUNCTION`].
pub fn function_name() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        std::env::var("AWS_LAMBDA_FUNCTION_NAME")
            .ok()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| FUNCTION.to_owned())
    })
}

/// The metric of one job's outcome: the run's final status if it finished
/// now (with its lateness: now minus the job's due time), else the outcome.
pub fn metric(report: &RunReport, job: &Job, now: DateTime<Utc>) -> RunMetric {
    let status = report
        .status
        .and_then(|s| serde_json::to_value(s).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| report.outcome.to_owned());
    RunMetric {
        function: function_name().to_owned(),
        status,
        lateness_ms: report.status.map(|_| (now - job.due_at).num_milliseconds()),
        at: now,
    }
}

/// Run one job to an acknowledgeable outcome. A job that meets another
/// runner's live claim is sent again, delayed until the claim expires. For
/// a visit job (issue #11: several runs of one visit in [`Job::then`]), the
/// first run's report; [`run_all`] gives every run's.
pub async fn run(engine: &Engine, job: Job) -> Result<RunReport, RunnerError> {
    let run_id = job.run_id.clone();
    run_all(engine, job)
        .await?
        .into_iter()
        .next()
        .ok_or(RunnerError::Engine {
            run_id,
            source: EngineError::Corrupt("a job without runs".into()),
        })
}

/// Run one job — one run, or the runs of a visit job in order, committed
/// together ([`Engine::run_visit_job`]) — to acknowledgeable outcomes: one
/// report (log line and metric) per run. A live claim on any of its runs
/// sends the job again once, delayed until the latest such claim expires
/// (its finished runs are then found final).
pub async fn run_all(engine: &Engine, job: Job) -> Result<Vec<RunReport>, RunnerError> {
    let failed = |source: EngineError| RunnerError::Engine {
        run_id: job.run_id.clone(),
        source,
    };
    // One run or a visit job's runs (`run_visit_job` runs a job of one run
    // as `run_job` does).
    let outcomes = engine.run_visit_job(job.clone()).await.map_err(failed)?;
    if let RunOutcome::Claimed { until } = job_outcome(&outcomes) {
        engine
            .ports()
            .jobs
            .send(vec![Job {
                due_at: until,
                ..job.clone()
            }])
            .await
            .map_err(|e| failed(e.into()))?;
    }
    let now = engine.ports().clock.now();
    Ok(outcomes
        .into_iter()
        .map(|(run_id, outcome)| {
            let (outcome, status) = match outcome {
                RunOutcome::Finished(status) => ("finished", Some(status)),
                RunOutcome::AlreadyFinished => ("already_finished", None),
                RunOutcome::Rescheduled => ("rescheduled", None),
                RunOutcome::Unknown => ("unknown", None),
                RunOutcome::Waiting => ("waiting", None),
                RunOutcome::Claimed { .. } => ("claimed", None),
            };
            info!(%run_id, outcome, ?status, "job done");
            let report = RunReport {
                run_id,
                outcome,
                status,
            };
            metric(&report, &job, now).emit();
            report
        })
        .collect())
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

/// The Lambda handler: one batch of the robot-actions queue. It never fails
/// as a whole (failures are reported per message); a payload that is not an
/// SQS event fails the invocation.
pub async fn handler(
    engine: &Engine,
    event: LambdaEvent<Value>,
) -> Result<SqsBatchResponse, RunnerError> {
    let deadline = deadline_of(&event.context);
    match serde_json::from_value::<SqsEvent>(event.payload) {
        Ok(batch) => Ok(process_batch(engine, &batch, deadline).await),
        Err(e) => {
            error!(error = %e, "invocation payload is not an SQS event");
            Err(RunnerError::Payload(e))
        }
    }
}

#[cfg(test)]
mod tests;
