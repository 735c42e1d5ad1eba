//! The stage-change function: consumes the documents table's DynamoDB Stream
//! and processes every new transactional-outbox record with
//! [`Engine::process_outbox`] (end the old visit, plan the new visit's robots:
//! immediate ones to the robot-actions queue, delayed ones as one-time
//! schedules; queue change events for trigger evaluation; hand outbound
//! messages to delivery).
//!
//! The outbox record is written in the same conditional transaction as the
//! item change, so the stage change reaches this function even if the writer
//! crashes right after its write. Only `INSERT` records whose new image is an
//! outbox document's primary record are processed; everything else in the
//! stream (other documents, list entries, the `REMOVE` of a processed outbox
//! record, modifications) is skipped.
//!
//! Failures are reported with `batch_item_failures` (the record's sequence
//! number), stopping at the first failure: Lambda then retries the shard from
//! that record, so stream order is kept and nothing after it is lost.
//! [`Engine::process_outbox`] is idempotent, so records processed before a
//! crash may safely be seen again.

pub use crm_aws::wiring;

use std::convert::Infallible;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use crm_aws::doc_from_stream_image;
use crm_core::Engine;
use crm_core::ports::{Doc, Kind};
use lambda_runtime::LambdaEvent;
use tracing::{debug, error, info};

/// The outbox document carried by a stream record, if the record is the
/// `INSERT` of an outbox document's primary record; `None` for anything else.
pub fn outbox_doc(record: &EventRecord) -> Option<Doc> {
    if record.event_name != "INSERT" {
        return None;
    }
    doc_from_stream_image(&record.change.new_image).filter(|d| d.key.kind == Kind::Outbox)
}

/// Process one stream batch in order; stop at the first failure and report it
/// (and thereby every later record) for a retry.
pub async fn process_batch(engine: &Engine, event: &Event) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    let mut processed = 0usize;
    for record in &event.records {
        let Some(doc) = outbox_doc(record) else {
            debug!(event_id = %record.event_id, event_name = %record.event_name, "not a new outbox record; skipped");
            continue;
        };
        let key = doc.key.to_string();
        match engine.process_outbox(doc).await {
            Ok(()) => processed += 1,
            Err(e) => {
                // A record without a sequence number cannot be named: an
                // unnamed failure makes Lambda retry the whole batch, which is
                // safe because processing is idempotent.
                let sequence = record.change.sequence_number.clone();
                error!(
                    outbox = %key,
                    sequence_number = sequence.as_deref().unwrap_or("-"),
                    error = %e,
                    "outbox record failed; the shard is retried from this record"
                );
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = sequence;
                response.batch_item_failures.push(failure);
                break;
            }
        }
    }
    info!(
        records = event.records.len(),
        processed,
        failed = response.batch_item_failures.len(),
        "stream batch done"
    );
    response
}

/// The Lambda handler: [`process_batch`] on the invocation's payload. Never
/// fails as a whole; failures are reported per record.
pub async fn handler(
    engine: &Engine,
    event: LambdaEvent<Event>,
) -> Result<DynamoDbEventResponse, Infallible> {
    Ok(process_batch(engine, &event.payload).await)
}

#[cfg(test)]
mod tests;
