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
//! Records of a batch are processed concurrently, grouped by the item they
//! concern; each item's records keep their order ([`ordered`]). Failures are
//! reported with `batch_item_failures` (sequence numbers): a failed record
//! and every record not started after it (its item's later records, and all
//! records once the Lambda deadline is near). Lambda restarts the shard from
//! the lowest reported sequence number, so nothing after it is lost; records
//! of other items past that point are seen again, which is harmless because
//! [`Engine::process_outbox`] is idempotent.
//!
//! The same function also runs the [`sweeper`] (payload `{"sweep": true}`,
//! once a minute), which processes outbox rows the stream path has not
//! processed after a few minutes.

pub mod ordered;
pub mod sweeper;

pub use crm_aws::wiring;

use std::convert::Infallible;
use std::time::SystemTime;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use crm_aws::lambda::deadline_of;
use crm_aws::{OutboxIndex, doc_from_stream_image};
use crm_core::Engine;
use crm_core::ports::{Doc, Kind};
use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

use ordered::{GROUP_CONCURRENCY, Outcome, Work, process_ordered};
use sweeper::{SweepReport, sweep};

/// The outbox document carried by a stream record, if the record is the
/// `INSERT` of an outbox document's primary record; `None` for anything else.
pub fn outbox_doc(record: &EventRecord) -> Option<Doc> {
    if record.event_name != "INSERT" {
        return None;
    }
    doc_from_stream_image(&record.change.new_image).filter(|d| d.key.kind == Kind::Outbox)
}

/// Process one stream batch ([`ordered::process_ordered`]) and report every
/// record that failed or was not started.
pub async fn process_batch(
    engine: &Engine,
    event: &Event,
    deadline: Option<SystemTime>,
) -> DynamoDbEventResponse {
    let mut works = Vec::new();
    let mut sequences = Vec::new();
    for record in &event.records {
        let Some(doc) = outbox_doc(record) else {
            debug!(event_id = %record.event_id, event_name = %record.event_name, "not a new outbox record; skipped");
            continue;
        };
        let sequence = record.change.sequence_number.clone();
        works.push(Work {
            name: sequence.clone().unwrap_or_else(|| record.event_id.clone()),
            doc,
        });
        sequences.push(sequence);
    }
    let outcomes = process_ordered(engine, &works, GROUP_CONCURRENCY, deadline).await;
    let mut response = DynamoDbEventResponse::default();
    let (mut processed, mut failed, mut not_started) = (0usize, 0usize, 0usize);
    for (outcome, sequence) in outcomes.into_iter().zip(sequences) {
        match outcome {
            Outcome::Done => {
                processed += 1;
                continue;
            }
            Outcome::Failed => failed += 1,
            Outcome::NotStarted => not_started += 1,
        }
        // A record without a sequence number cannot be named: an unnamed
        // failure makes Lambda retry the whole batch, which is safe because
        // processing is idempotent.
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = sequence;
        response.batch_item_failures.push(failure);
    }
    if let Some(first) = response.batch_item_failures.first() {
        warn!(
            from = first.item_identifier.as_deref().unwrap_or("-"),
            "the shard is retried from this record"
        );
    }
    info!(
        records = event.records.len(),
        processed, failed, not_started, "stream batch done"
    );
    response
}

/// The stream handler: [`process_batch`] on the invocation's payload, with
/// its deadline. Never fails as a whole; failures are reported per record.
pub async fn handler(
    engine: &Engine,
    event: LambdaEvent<Event>,
) -> Result<DynamoDbEventResponse, Infallible> {
    let deadline = deadline_of(&event.context);
    Ok(process_batch(engine, &event.payload, deadline).await)
}

/// The sweeper's payload: `{"sweep": true}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepRequest {
    pub sweep: bool,
}

/// What the function is invoked with: a sweep request from its schedule, or
/// a batch of stream records (which never has a `sweep` field).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Invocation {
    Sweep(SweepRequest),
    Stream(Event),
}

/// The function's answer to an [`Invocation`].
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Response {
    Stream(DynamoDbEventResponse),
    Sweep(SweepReport),
}

/// What the function needs: the engine, and the outbox index the sweeper
/// reads.
pub struct StageChange {
    pub engine: Engine,
    pub index: OutboxIndex,
}

/// The Lambda entry point: stream batches to [`handler`], sweep requests to
/// [`sweeper::sweep`].
pub async fn invoke(
    function: &StageChange,
    event: LambdaEvent<Invocation>,
) -> Result<Response, Infallible> {
    let deadline = deadline_of(&event.context);
    Ok(match event.payload {
        Invocation::Stream(batch) => {
            Response::Stream(process_batch(&function.engine, &batch, deadline).await)
        }
        Invocation::Sweep(SweepRequest { sweep: true }) => {
            Response::Sweep(sweep(&function.engine, &function.index, deadline).await)
        }
        Invocation::Sweep(SweepRequest { sweep: false }) => {
            info!("sweep: false; nothing to do");
            Response::Sweep(SweepReport::default())
        }
    })
}

#[cfg(test)]
mod tests;
