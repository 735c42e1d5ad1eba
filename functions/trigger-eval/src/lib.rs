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
//!
//! The function is also subscribed to the SNS topic of incoming email and
//! SES feedback (issue #15, `InboundEmailDomain` in `infra/template.yaml`):
//! [`handle_invocation`] tells an SNS invocation from an SQS batch and
//! hands each SES notification to [`crm_aws::inbound_email`] (a reply or a
//! client's email raises `incoming_email`; a bounce or complaint marks the
//! message). A store, queue or S3 failure fails the invocation, which
//! Lambda retries; a notification that matches nothing is logged.

pub use crm_aws::lambda::{DEADLINE_RESERVE, deadline_of};
pub use crm_aws::wiring;

use std::convert::Infallible;
use std::time::SystemTime;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use crm_aws::lambda::{MessageFailure, process_sqs_batch};
use crm_core::Engine;
use crm_core::error::EngineError;
use crm_core::model::QueuedEvent;
use lambda_runtime::LambdaEvent;

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

impl MessageFailure for MessageError {
    fn is_malformed(&self) -> bool {
        matches!(self, MessageError::NoBody | MessageError::Malformed(_))
    }
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
    process_sqs_batch(event, deadline, "event", |m| async move {
        process_message(engine, &m).await
    })
    .await
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

/// Any invocation of the function: an SQS batch of events (answered with
/// the batch response, as [`handler`]) or an SNS delivery of SES
/// notifications (each handled in order; the first failure fails the
/// invocation, so that Lambda retries it — handled notifications change
/// nothing the second time).
pub async fn handle_invocation(
    engine: &Engine,
    s3: &aws_sdk_s3::Client,
    event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, lambda_runtime::Error> {
    let (payload, context) = event.into_parts();
    if crm_aws::inbound_email::is_sns_event(&payload) {
        let inbound = crm_aws::inbound_email::InboundMail { engine, s3 };
        let mut outcomes = Vec::new();
        for message in crm_aws::inbound_email::sns_messages(&payload) {
            outcomes.push(inbound.handle(&message).await?);
        }
        return Ok(serde_json::json!({ "handled": outcomes }));
    }
    let batch: SqsEvent = serde_json::from_value(payload)?;
    let response = handler(engine, LambdaEvent::new(batch, context))
        .await
        .unwrap_or_else(|never| match never {});
    Ok(serde_json::to_value(response)?)
}

#[cfg(test)]
mod tests;
