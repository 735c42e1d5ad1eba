//! [`JobQueue`] and [`EventQueue`] on SQS. Message bodies are the JSON of the
//! [`Job`] / [`QueuedEvent`], exactly what the robot-runner and trigger-eval
//! functions parse from their SQS events.
//!
//! A job is delivered no earlier than its `due_at`: it is sent with
//! `DelaySeconds = ceil(due_at - now)` (at the injected clock), at most
//! [`MAX_DELAY_SECONDS`]; the runner checks the run's due time again, so a
//! job further away than that is deferred again, never run early.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};
use crm_core::model::QueuedEvent;
use crm_core::ports::{Clock, EventQueue, Job, JobQueue, PortError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{debug, warn};

use crate::error::{AwsError, describe};

/// Most entries one `SendMessageBatch` / `DeleteMessageBatch` may hold.
const BATCH_MAX: usize = 10;
/// Attempts at entries that failed inside a batch (not the SDK's own retries).
const BATCH_ATTEMPTS: u32 = 4;
/// Longest `DelaySeconds` SQS accepts (15 minutes).
pub const MAX_DELAY_SECONDS: i64 = 900;

/// `DelaySeconds` that delivers a message no earlier than `due_at`:
/// `ceil(due_at - now)` clamped to `0..=cap` (a message cannot be delayed
/// longer; whoever receives it early defers it again).
pub fn delay_seconds(
    due_at: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
    cap: i64,
) -> i32 {
    let ms = (due_at - now).num_milliseconds();
    let secs = if ms <= 0 { 0 } else { (ms + 999) / 1000 };
    i32::try_from(secs.min(cap.clamp(0, MAX_DELAY_SECONDS))).unwrap_or(0)
}

/// One SQS queue, addressed by URL.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

/// A message received from a queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Received<T> {
    /// Handle to delete (acknowledge) the message with.
    pub receipt_handle: String,
    /// SQS message id.
    pub message_id: String,
    /// The decoded body.
    pub body: T,
}

impl SqsQueue {
    /// The queue at `url`.
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        SqsQueue {
            client,
            url: url.into(),
        }
    }

    /// The queue URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Send JSON bodies, ten per `SendMessageBatch`. Entries that fail inside a
    /// batch are retried (with back-off) unless SQS blames the sender, in which
    /// case the call fails with [`PortError::Rejected`].
    pub async fn send_json<T: Serialize>(&self, messages: &[T]) -> Result<(), PortError> {
        let delayed: Vec<(&T, i32)> = messages.iter().map(|m| (m, 0)).collect();
        self.send_json_delayed(&delayed).await
    }

    /// [`SqsQueue::send_json`] with a `DelaySeconds` (0–900) per message.
    pub async fn send_json_delayed<T: Serialize>(
        &self,
        messages: &[(&T, i32)],
    ) -> Result<(), PortError> {
        let bodies = messages
            .iter()
            .map(|(m, delay)| serde_json::to_string(m).map(|b| (b, *delay)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| PortError::Rejected(format!("message not serializable: {e}")))?;
        for chunk in bodies.chunks(BATCH_MAX) {
            self.send_chunk(chunk).await?;
        }
        Ok(())
    }

    /// Send one raw body as is, without delay (what EventBridge Scheduler
    /// does with a schedule's input; for tests that fire schedules).
    pub async fn send_raw(&self, body: &str) -> Result<(), PortError> {
        self.send_chunk(&[(body.to_owned(), 0)]).await
    }

    /// How many messages of the queue are delayed (not yet receivable):
    /// `ApproximateNumberOfMessagesDelayed`.
    pub async fn delayed_count(&self) -> Result<u64, AwsError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(
                aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesDelayed,
            )
            .send()
            .await
            .map_err(|e| AwsError::sdk("GetQueueAttributes", e))?;
        Ok(out
            .attributes()
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            })
            .and_then(|n| n.parse().ok())
            .unwrap_or(0))
    }

    async fn send_chunk(&self, bodies: &[(String, i32)]) -> Result<(), PortError> {
        if let [(body, delay)] = bodies {
            return self
                .client
                .send_message()
                .queue_url(&self.url)
                .message_body(body)
                .set_delay_seconds((*delay > 0).then_some(*delay))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| PortError::Unavailable(format!("SendMessage: {}", describe(&e))));
        }
        // Indexes (as entry ids) of the bodies still to send.
        let mut pending: Vec<usize> = (0..bodies.len()).collect();
        for attempt in 1..=BATCH_ATTEMPTS {
            let entries = pending
                .iter()
                .map(|&i| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(&bodies[i].0)
                        .set_delay_seconds((bodies[i].1 > 0).then_some(bodies[i].1))
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| PortError::Rejected(e.to_string()))?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| {
                    PortError::Unavailable(format!("SendMessageBatch: {}", describe(&e)))
                })?;
            let failed = out.failed();
            if failed.is_empty() {
                return Ok(());
            }
            if let Some(f) = failed.iter().find(|f| f.sender_fault()) {
                return Err(PortError::Rejected(format!(
                    "SendMessageBatch entry rejected: {} {}",
                    f.code(),
                    f.message().unwrap_or_default()
                )));
            }
            pending = failed.iter().filter_map(|f| f.id().parse().ok()).collect();
            warn!(
                failed = pending.len(),
                attempt,
                code = failed[0].code(),
                "SendMessageBatch partial failure; retrying"
            );
            if attempt < BATCH_ATTEMPTS {
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
        }
        Err(PortError::Unavailable(format!(
            "SendMessageBatch: {} entries failed after {BATCH_ATTEMPTS} attempts",
            pending.len()
        )))
    }

    /// Receive up to `max` (≤ 10) messages, waiting up to `wait_seconds` (long
    /// polling, ≤ 20) for the first, and decode their JSON bodies. Messages are
    /// not deleted: [`SqsQueue::ack`] them.
    pub async fn receive<T: DeserializeOwned>(
        &self,
        max: i32,
        wait_seconds: i32,
    ) -> Result<Vec<Received<T>>, AwsError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10))
            .wait_time_seconds(wait_seconds.clamp(0, 20))
            .send()
            .await
            .map_err(|e| AwsError::sdk("ReceiveMessage", e))?;
        out.messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let body = m.body.unwrap_or_default();
                Ok(Received {
                    body: serde_json::from_str(&body).map_err(|e| {
                        AwsError::Decode(format!("message {:?}: {e}: {body}", m.message_id))
                    })?,
                    receipt_handle: m.receipt_handle.unwrap_or_default(),
                    message_id: m.message_id.unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Delete (acknowledge) received messages, ten per `DeleteMessageBatch`.
    pub async fn ack(&self, receipt_handles: &[String]) -> Result<(), AwsError> {
        for chunk in receipt_handles.chunks(BATCH_MAX) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(h)
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| AwsError::Decode(e.to_string()))?;
            let out = self
                .client
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| AwsError::sdk("DeleteMessageBatch", e))?;
            if let Some(f) = out.failed().first() {
                return Err(AwsError::Sdk {
                    operation: "DeleteMessageBatch",
                    code: Some(f.code().to_owned()),
                    message: f.message().unwrap_or_default().to_owned(),
                });
            }
        }
        Ok(())
    }

    /// Make a received message visible again at once (ChangeMessageVisibility 0).
    pub async fn release(&self, receipt_handle: &str) -> Result<(), AwsError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(0)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::sdk("ChangeMessageVisibility", e))
    }
}

/// The robot-actions queue: [`JobQueue`] on SQS (`SendMessageBatch`, body =
/// Job JSON, `DelaySeconds` up to the job's `due_at` at the injected clock).
#[derive(Clone)]
pub struct SqsJobQueue {
    queue: SqsQueue,
    clock: Arc<dyn Clock>,
    max_delay: i64,
}

impl std::fmt::Debug for SqsJobQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqsJobQueue")
            .field("queue", &self.queue)
            .field("max_delay", &self.max_delay)
            .finish_non_exhaustive()
    }
}

impl SqsJobQueue {
    /// The robot-actions queue at `url`; delays computed at `clock`.
    pub fn new(client: Client, url: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        SqsJobQueue {
            queue: SqsQueue::new(client, url),
            clock,
            max_delay: MAX_DELAY_SECONDS,
        }
    }

    /// Never delay a message longer than `seconds` (0 = send everything at
    /// once). For tests on a manual clock, where a real SQS delay would be a
    /// real wait: the receiver then holds jobs that are not due at its clock.
    pub fn with_max_delay(mut self, seconds: i64) -> Self {
        self.max_delay = seconds.clamp(0, MAX_DELAY_SECONDS);
        self
    }

    /// The underlying queue (receive / ack for tests and tools).
    pub fn queue(&self) -> &SqsQueue {
        &self.queue
    }

    /// The clock delays are computed at.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }
}

#[async_trait]
impl JobQueue for SqsJobQueue {
    async fn send(&self, jobs: Vec<Job>) -> Result<(), PortError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        let delayed: Vec<(&Job, i32)> = jobs
            .iter()
            .map(|j| (j, delay_seconds(j.due_at, now, self.max_delay)))
            .collect();
        debug!(count = jobs.len(), "queueing robot runs");
        self.queue.send_json_delayed(&delayed).await
    }
}

/// The events queue: [`EventQueue`] on SQS (`SendMessage`, body = QueuedEvent JSON).
#[derive(Debug, Clone)]
pub struct SqsEventQueue {
    queue: SqsQueue,
}

impl SqsEventQueue {
    /// The events queue at `url`.
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        SqsEventQueue {
            queue: SqsQueue::new(client, url),
        }
    }

    /// The underlying queue (receive / ack for tests and tools).
    pub fn queue(&self) -> &SqsQueue {
        &self.queue
    }
}

#[async_trait]
impl EventQueue for SqsEventQueue {
    async fn send(&self, event: QueuedEvent) -> Result<(), PortError> {
        debug!(tenant = %event.tenant, event_id = %event.event_id, "queueing event");
        self.queue.send_json(std::slice::from_ref(&event)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, TimeZone, Utc};

    #[test]
    fn delays_round_up_to_the_second_and_stop_at_fifteen_minutes() {
        let now = Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap();
        let d = |ms: i64, cap: i64| delay_seconds(now + TimeDelta::milliseconds(ms), now, cap);
        assert_eq!(d(-5_000, 900), 0, "due already");
        assert_eq!(d(0, 900), 0);
        assert_eq!(d(1, 900), 1, "never early: a millisecond waits a second");
        assert_eq!(d(59_000, 900), 59);
        assert_eq!(d(59_001, 900), 60);
        assert_eq!(d(900_000, 900), 900);
        assert_eq!(
            d(3_600_000, 900),
            900,
            "SQS holds a message 15 minutes at most"
        );
        assert_eq!(d(59_000, 0), 0, "tests on a manual clock send at once");
    }
}
