//! `crm-automation aws redrive --from <dlq url> --to <queue url> [--max N]`:
//! moves the messages of a dead-letter queue back to the queue its consumer
//! reads, after the cause of their failures was fixed.
//!
//! How: receive (up to 10, hidden for [`IN_FLIGHT`]) → `SendMessageBatch` to
//! the target with the same body and message attributes → delete from the
//! DLQ only what was sent. At least once and idempotent: a crash between the
//! send and the delete leaves a copy in both queues, and every consumer of
//! these queues has one effect per message however often it is delivered.
//!
//! Why not SQS `StartMessageMoveTask`: it runs in the background with no
//! per-run count and no `--to` of our choosing on every emulator (LocalStack
//! and MiniStack do not implement it fully), it only moves from a queue
//! configured as a DLQ of the source, and an operator wants the count moved
//! printed when the command returns. Receive/send/delete works the same on
//! AWS and both emulators.
//!
//! The stream DLQ is refused: Lambda writes there the *shard pointers* of
//! stream batches it gave up on (`DDBStreamBatchInfo`), not events, and
//! sending those to a queue would be read as garbage. Stage changes that the
//! stream path gave up on are planned by the outbox sweeper instead.

use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName,
    SendMessageBatchRequestEntry,
};
use clap::{Args, Subcommand};

/// How long received messages stay hidden in the DLQ while they are moved:
/// long enough that one run never receives the same message twice.
pub const IN_FLIGHT: Duration = Duration::from_secs(120);

/// Text of the refusal for the stream DLQ (also shown by `--help`).
pub const STREAM_DLQ_REFUSAL: &str = "this is the stream dead-letter queue: its messages are shard \
pointers of DynamoDB stream batches (DDBStreamBatchInfo), not events, and cannot be replayed \
through a queue; the outbox sweeper plans every stage change the stream path gave up on, so \
these messages only say when and where it happened (read them, then purge the queue)";

/// `crm-automation aws …`: operations on the AWS deployment.
#[derive(Debug, Subcommand)]
pub enum AwsCommand {
    /// Move the messages of a dead-letter queue back to a queue (receive →
    /// send → delete; at least once). Refuses the stream DLQ.
    Redrive(RedriveArgs),
}

/// Options of `aws redrive`. The endpoint, region and credentials are the
/// AWS SDK's usual ones (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_PROFILE`, …).
#[derive(Debug, Clone, Args)]
pub struct RedriveArgs {
    /// URL of the dead-letter queue to empty.
    #[arg(long = "from")]
    pub from: String,
    /// URL of the queue to move the messages to (the DLQ's source queue).
    #[arg(long = "to")]
    pub to: String,
    /// Move at most this many messages (default: until the DLQ is empty).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max: Option<u64>,
}

/// What a redrive did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedriveReport {
    /// Messages sent to the target and deleted from the DLQ.
    pub moved: u64,
    /// Messages sent to the target whose delete from the DLQ failed: they
    /// will be delivered again (consumers are idempotent) and should be
    /// redriven or purged later.
    pub not_deleted: u64,
}

/// Why a redrive stopped.
#[derive(Debug, thiserror::Error)]
pub enum RedriveError {
    /// `--from` is the stream DLQ (by name, or a message of it is a stream
    /// batch pointer).
    #[error("{queue}: {STREAM_DLQ_REFUSAL} ({moved} message(s) moved before this was seen)")]
    StreamDlq {
        /// The queue refused.
        queue: String,
        /// Messages already moved (other messages of the same queue).
        moved: u64,
    },
    /// `--from` and `--to` are the same queue.
    #[error("--from and --to are the same queue ({0}): nothing to do")]
    SameQueue(String),
    /// An SQS call failed; `report` says what was moved before it.
    #[error("{operation} failed: {message} ({} message(s) moved before)", report.moved)]
    Sqs {
        /// The SQS operation.
        operation: &'static str,
        /// The error with its sources.
        message: String,
        /// What was done before the failure.
        report: RedriveReport,
    },
}

/// Run `aws redrive` with a client from the SDK's environment and print the
/// counts.
pub async fn run(args: RedriveArgs) -> Result<RedriveReport, RedriveError> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = Client::new(&sdk);
    let report = redrive(&client, &args).await?;
    println!(
        "moved {} message(s) from {} to {}",
        report.moved, args.from, args.to
    );
    if report.not_deleted > 0 {
        println!(
            "{} message(s) were sent but could not be deleted from {}: they will be delivered again",
            report.not_deleted, args.from
        );
    }
    Ok(report)
}

/// Whether a queue URL names a stream dead-letter queue (the template's
/// `StreamDeadLetterQueue`, or any queue named `*stream*dlq*`/`*stream*dead*`).
pub fn is_stream_dlq_name(url: &str) -> bool {
    let name = url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    name.contains("stream") && (name.contains("dlq") || name.contains("dead"))
}

/// Whether a message is a Lambda on-failure record of a stream batch.
fn is_stream_pointer(m: &Message) -> bool {
    m.body()
        .is_some_and(|b| b.contains("\"DDBStreamBatchInfo\"") || b.contains("\"KinesisBatchInfo\""))
}

/// Move up to `args.max` messages from `args.from` to `args.to`.
pub async fn redrive(sqs: &Client, args: &RedriveArgs) -> Result<RedriveReport, RedriveError> {
    if args.from.trim_end_matches('/') == args.to.trim_end_matches('/') {
        return Err(RedriveError::SameQueue(args.from.clone()));
    }
    if is_stream_dlq_name(&args.from) {
        return Err(RedriveError::StreamDlq {
            queue: args.from.clone(),
            moved: 0,
        });
    }
    let fifo = args.to.ends_with(".fifo");
    let mut report = RedriveReport::default();
    loop {
        let want = args
            .max
            .map_or(10, |max| {
                max.saturating_sub(report.moved + report.not_deleted)
            })
            .min(10);
        if want == 0 {
            return Ok(report);
        }
        let batch = receive(sqs, &args.from, want as i32, report).await?;
        if batch.is_empty() {
            return Ok(report);
        }
        if batch.iter().any(is_stream_pointer) {
            release(sqs, &args.from, &batch).await;
            return Err(RedriveError::StreamDlq {
                queue: args.from.clone(),
                moved: report.moved,
            });
        }
        let sent = send(sqs, &args.to, &batch, fifo, report).await?;
        let deleted = delete(sqs, &args.from, &sent).await;
        report.moved += deleted;
        report.not_deleted += sent.len() as u64 - deleted;
        tracing::info!(moved = report.moved, "redrive batch moved");
    }
}

async fn receive(
    sqs: &Client,
    from: &str,
    max: i32,
    report: RedriveReport,
) -> Result<Vec<Message>, RedriveError> {
    let out = sqs
        .receive_message()
        .queue_url(from)
        .max_number_of_messages(max)
        // Long polling asks every SQS server, so an empty answer means empty.
        .wait_time_seconds(1)
        .visibility_timeout(IN_FLIGHT.as_secs() as i32)
        .message_attribute_names("All")
        .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
        .send()
        .await
        .map_err(|e| RedriveError::Sqs {
            operation: "ReceiveMessage",
            message: DisplayErrorContext(&e).to_string(),
            report,
        })?;
    Ok(out.messages.unwrap_or_default())
}

/// Send the batch; returns the messages the target accepted.
async fn send<'a>(
    sqs: &Client,
    to: &str,
    batch: &'a [Message],
    fifo: bool,
    report: RedriveReport,
) -> Result<Vec<&'a Message>, RedriveError> {
    let entries = batch
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut e = SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(m.body().unwrap_or_default())
                .set_message_attributes(m.message_attributes.clone());
            if fifo {
                let group = m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                    .cloned()
                    .unwrap_or_else(|| "redrive".to_owned());
                // The DLQ message id: a retried batch is not sent twice within 5 minutes.
                e = e
                    .message_group_id(group)
                    .message_deduplication_id(m.message_id().unwrap_or_default());
            }
            e.build()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| RedriveError::Sqs {
            operation: "SendMessageBatch",
            message: e.to_string(),
            report,
        })?;
    let out = sqs
        .send_message_batch()
        .queue_url(to)
        .set_entries(Some(entries))
        .send()
        .await
        .map_err(|e| RedriveError::Sqs {
            operation: "SendMessageBatch",
            message: DisplayErrorContext(&e).to_string(),
            report,
        })?;
    if let Some(f) = out.failed().first() {
        tracing::warn!(
            id = f.id(),
            code = f.code(),
            "message not sent; left in the DLQ"
        );
    }
    Ok(out
        .successful()
        .iter()
        .filter_map(|s| s.id().parse::<usize>().ok())
        .filter_map(|i| batch.get(i))
        .collect())
}

/// Delete the sent messages from the DLQ; returns how many were deleted.
async fn delete(sqs: &Client, from: &str, sent: &[&Message]) -> u64 {
    if sent.is_empty() {
        return 0;
    }
    let entries: Vec<_> = sent
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .build()
                .ok()
        })
        .collect();
    match sqs
        .delete_message_batch()
        .queue_url(from)
        .set_entries(Some(entries))
        .send()
        .await
    {
        Ok(out) => out.successful().len() as u64,
        Err(e) => {
            tracing::warn!(error = %DisplayErrorContext(&e), "DeleteMessageBatch failed");
            0
        }
    }
}

/// Make refused messages visible again at once (best effort: otherwise they
/// reappear after [`IN_FLIGHT`]).
async fn release(sqs: &Client, from: &str, batch: &[Message]) {
    for m in batch {
        if let Some(handle) = m.receipt_handle() {
            let _ = sqs
                .change_message_visibility()
                .queue_url(from)
                .receipt_handle(handle)
                .visibility_timeout(0)
                .send()
                .await;
        }
    }
}

#[cfg(test)]
mod tests;
