//! [`JobQueue`] and [`EventQueue`] on SQS. Message bodies are the JSON of the
//! [`Job`] / [`QueuedEvent`], exactly what the robot-runner and trigger-eval
//! functions parse from their SQS events.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};
use crm_core::model::QueuedEvent;
use crm_core::ports::{EventQueue, Job, JobQueue, PortError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{debug, warn};

use crate::error::{AwsError, describe};

/// Most entries one `SendMessageBatch` / `DeleteMessageBatch` may hold.
const BATCH_MAX: usize = 10;
/// Attempts at entries that failed inside a batch (not the SDK's own retries).
const BATCH_ATTEMPTS: u32 = 4;

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
        let bodies = messages
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| PortError::Rejected(format!("message not serializable: {e}")))?;
        for chunk in bodies.chunks(BATCH_MAX) {
            self.send_chunk(chunk).await?;
        }
        Ok(())
    }

    async fn send_chunk(&self, bodies: &[String]) -> Result<(), PortError> {
        if let [body] = bodies {
            return self
                .client
                .send_message()
                .queue_url(&self.url)
                .message_body(body)
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
                        .message_body(&bodies[i])
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

/// The robot-actions queue: [`JobQueue`] on SQS (`SendMessageBatch`, body = Job JSON).
#[derive(Debug, Clone)]
pub struct SqsJobQueue {
    queue: SqsQueue,
}

impl SqsJobQueue {
    /// The robot-actions queue at `url`.
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        SqsJobQueue {
            queue: SqsQueue::new(client, url),
        }
    }

    /// The underlying queue (receive / ack for tests and tools).
    pub fn queue(&self) -> &SqsQueue {
        &self.queue
    }
}

#[async_trait]
impl JobQueue for SqsJobQueue {
    async fn send(&self, jobs: Vec<Job>) -> Result<(), PortError> {
        if jobs.is_empty() {
            return Ok(());
        }
        debug!(count = jobs.len(), "queueing robot runs");
        self.queue.send_json(&jobs).await
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
