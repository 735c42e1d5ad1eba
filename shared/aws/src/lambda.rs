//! What the SQS-triggered functions share: the invocation deadline and the
//! per-message loop that reports partial batch failures.

use std::future::Future;
use std::time::{Duration, SystemTime};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::Context;
use tracing::{error, info, warn};

/// No new message is started when the Lambda deadline is this close; the
/// rest of the batch is reported as failed and redelivered.
pub const DEADLINE_RESERVE: Duration = Duration::from_secs(2);

/// The invocation's deadline; `None` when unknown (`Context::default()` has 0).
pub fn deadline_of(context: &Context) -> Option<SystemTime> {
    (context.deadline != 0).then(|| context.deadline())
}

/// Is `deadline` less than [`DEADLINE_RESERVE`] away?
pub fn near(deadline: Option<SystemTime>) -> bool {
    deadline.is_some_and(|d| SystemTime::now() + DEADLINE_RESERVE >= d)
}

/// A message's failure: malformed ones go to the DLQ after their last
/// receive; the others are retried.
pub trait MessageFailure: std::fmt::Display {
    fn is_malformed(&self) -> bool;
}

/// The batch failure naming `message`. A message without an id cannot be
/// named: the empty identifier makes Lambda retry the whole batch, which is
/// safe because the handlers are idempotent.
fn failure(message: &SqsMessage) -> BatchItemFailure {
    let mut f = BatchItemFailure::default();
    f.item_identifier = message.message_id.clone().unwrap_or_default();
    f
}

/// Process a batch in order with `handle`, reporting every failed (or, near
/// the deadline, not started) message. `what` names the work in the logs.
pub async fn process_sqs_batch<E, F, Fut>(
    event: &SqsEvent,
    deadline: Option<SystemTime>,
    what: &str,
    mut handle: F,
) -> SqsBatchResponse
where
    E: MessageFailure,
    F: FnMut(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
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
        match handle(message.clone()).await {
            Ok(()) => {}
            Err(e) if e.is_malformed() => {
                error!(message_id = id, error = %e, "malformed message (goes to the DLQ after its last receive)");
                response.batch_item_failures.push(failure(message));
            }
            Err(e) => {
                warn!(message_id = id, error = %e, "{what} not done; it will be retried");
                response.batch_item_failures.push(failure(message));
            }
        }
    }
    info!(
        messages = event.records.len(),
        failed = response.batch_item_failures.len(),
        "{what} batch done"
    );
    response
}
