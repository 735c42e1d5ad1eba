//! The trigger-eval function: consumes the events SQS queue. Each message body
//! is a [`QueuedEvent`] (JSON) accepted by the API or raised by the engine;
//! [`Engine::handle_event`] resolves its item(s), applies the trigger
//! selection rule, moves the stage with a versioned write and records the
//! evaluation (also "did nothing").
//!
//! Failures are reported per message (`SqsBatchResponse`, partial batch
//! responses enabled on the event source mapping): a failed message becomes
//! visible again after the visibility timeout, and goes to the dead-letter
//! queue after `maxReceiveCount` receives. A malformed body is logged and
//! reported the same way. Evaluations are idempotent per (item, event id),
//! so a message delivered twice has one effect.
//!
//! No new message is started when the invocation's deadline is less than
//! [`DEADLINE_RESERVE`] away; the rest of the batch is reported as failed
//! (it is retried, not lost).

pub use crm_aws::wiring;

use std::convert::Infallible;
use std::time::{Duration, SystemTime};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use crm_core::Engine;
use crm_core::error::EngineError;
use crm_core::model::QueuedEvent;
use lambda_runtime::{Context, LambdaEvent};
use tracing::{error, info, warn};

/// Time kept in reserve before the Lambda deadline: no message is started
/// within it.
pub const DEADLINE_RESERVE: Duration = Duration::from_secs(2);

/// Why one message failed.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// The message has no body.
    #[error("message has no body")]
    NoBody,
    /// The body is not a queued event.
    #[error("body is not a queued event: {0}")]
    Malformed(#[from] serde_json::Error),
    /// The engine failed (store or queue unavailable, lost races, …).
    #[error("evaluation of event {event_id} failed: {source}")]
    Engine {
        /// The event's id.
        event_id: String,
        /// The engine's error.
        #[source]
        source: EngineError,
    },
}

/// The invocation's deadline; `None` when unknown (`Context::default()` has 0).
pub fn deadline_of(context: &Context) -> Option<SystemTime> {
    (context.deadline != 0).then(|| context.deadline())
}

/// Is `deadline` less than [`DEADLINE_RESERVE`] away?
fn near(deadline: Option<SystemTime>) -> bool {
    deadline.is_some_and(|d| SystemTime::now() + DEADLINE_RESERVE >= d)
}

/// The batch failure naming `message`. A message without an id cannot be
/// named: the empty identifier makes Lambda retry the whole batch, which is
/// safe because evaluations are idempotent.
fn failure(message: &SqsMessage) -> BatchItemFailure {
    let mut f = BatchItemFailure::default();
    f.item_identifier = message.message_id.clone().unwrap_or_default();
    f
}

/// Decode one message's event and evaluate it.
pub async fn process_message(engine: &Engine, message: &SqsMessage) -> Result<(), MessageError> {
    let body = message.body.as_deref().ok_or(MessageError::NoBody)?;
    let event: QueuedEvent = serde_json::from_str(body)?;
    let event_id = event.event_id.clone();
    engine
        .handle_event(event)
        .await
        .map_err(|source| MessageError::Engine { event_id, source })
}

/// Process a batch in order; report every failed (or not started) message.
pub async fn process_batch(
    engine: &Engine,
    event: &SqsEvent,
    deadline: Option<SystemTime>,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for (n, message) in event.records.iter().enumerate() {
        if near(deadline) {
            let rest = &event.records[n..];
            warn!(
                left = rest.len(),
                "Lambda deadline near: the rest of the batch is left for a retry"
            );
            response
                .batch_item_failures
                .extend(rest.iter().map(failure));
            break;
        }
        let id = message.message_id.as_deref().unwrap_or("-");
        match process_message(engine, message).await {
            Ok(()) => {}
            Err(e @ (MessageError::NoBody | MessageError::Malformed(_))) => {
                error!(message_id = id, error = %e, "malformed message (goes to the DLQ after its last receive)");
                response.batch_item_failures.push(failure(message));
            }
            Err(e) => {
                warn!(message_id = id, error = %e, "event failed; it will be retried");
                response.batch_item_failures.push(failure(message));
            }
        }
    }
    info!(
        messages = event.records.len(),
        failed = response.batch_item_failures.len(),
        "event batch done"
    );
    response
}

/// The Lambda handler: [`process_batch`] with the invocation's deadline.
/// Never fails as a whole; failures are reported per message.
pub async fn handler(
    engine: &Engine,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Infallible> {
    let deadline = deadline_of(&event.context);
    Ok(process_batch(engine, &event.payload, deadline).await)
}

#[cfg(test)]
mod tests;
