//! crm-aws: the engine's ports on AWS.
//!
//! - [`DynamoStore`]: [`crm_core::ports::DocStore`] on one DynamoDB table
//!   (primary records + list entries written in one transaction).
//! - [`OutboxIndex`]: outbox rows by write time (a sparse index), for the
//!   sweeper that processes what the stream path gave up on.
//! - [`SqsJobQueue`] / [`SqsEventQueue`]: [`crm_core::ports::JobQueue`] and
//!   [`crm_core::ports::EventQueue`] on SQS.
//! - [`EventBridgeScheduler`]: [`crm_core::ports::Scheduler`] on EventBridge
//!   Scheduler one-time `at()` schedules targeting the robot-actions queue
//!   (or, for jobs due within 15 minutes, that queue with `DelaySeconds`).
//! - [`metrics`]: CloudWatch Embedded Metric Format lines (run outcomes).
//! - [`Config`]: names and endpoint from the environment; [`AwsPorts`]: all of
//!   the above built from one configuration, sharing one [`RequestCounter`].
//! - [`provision::ensure_resources`]: idempotent creation of the resources
//!   (LocalStack, tests).
//!
//! Everything is endpoint-agnostic: set `AWS_ENDPOINT_URL` for LocalStack.

pub mod api_keys;
pub mod billing;
pub mod blobs;
pub mod body_codec;
pub mod config;
pub mod counter;
pub mod dynamo;
pub mod dynamo_item;
pub mod email;
pub mod error;
pub mod http_caller;
pub mod inbound_email;
pub mod lambda;
pub mod metrics;
pub mod outbox_index;
pub mod provision;
pub mod scheduler;
pub mod senders;
pub mod sqs;
pub mod testing;
pub mod wiring;

use std::sync::Arc;

use crm_core::ports::Clock;
use crm_core::system::SystemClock;

pub use api_keys::DynamoApiKeys;
pub use blobs::S3Blobs;
pub use config::{Clients, Config};
pub use counter::{RequestCounter, RequestCounts, Service};
pub use dynamo::{DynamoStore, doc_from_item, doc_from_stream_image};
pub use error::AwsError;
pub use outbox_index::OutboxIndex;
pub use scheduler::{EventBridgeScheduler, ScheduledJob};
pub use sqs::{Received, SqsEventQueue, SqsJobQueue, SqsQueue};

/// Every AWS adapter, built from one [`Config`] and sharing one request counter.
#[derive(Debug, Clone)]
pub struct AwsPorts {
    /// The configuration the adapters were built from.
    pub config: Config,
    /// The SDK clients (for tools and tests).
    pub clients: Clients,
    /// The document store.
    pub store: Arc<DynamoStore>,
    /// The robot-actions queue.
    pub jobs: Arc<SqsJobQueue>,
    /// The delayed-run scheduler.
    pub scheduler: Arc<EventBridgeScheduler>,
    /// The events queue.
    pub events: Arc<SqsEventQueue>,
    /// Document templates and documents (S3, bucket `CRM_BLOB_BUCKET`).
    pub blobs: Arc<S3Blobs>,
    /// Counts the requests of all adapters (same counter as `clients.counter`).
    pub requests: RequestCounter,
}

impl AwsPorts {
    /// Build from the environment ([`Config::from_env`]).
    pub async fn from_env() -> Result<AwsPorts, AwsError> {
        Ok(AwsPorts::new(Config::from_env()?).await)
    }

    /// Build from a configuration (loads the SDK configuration: region,
    /// endpoint, credentials).
    pub async fn new(config: Config) -> AwsPorts {
        let counter = RequestCounter::new();
        let clients = config.clients(&counter).await;
        AwsPorts::from_clients(config, clients)
    }

    /// Build from existing clients (the system clock).
    pub fn from_clients(config: Config, clients: Clients) -> AwsPorts {
        AwsPorts::with_clock(
            config,
            clients,
            Arc::new(SystemClock),
            sqs::MAX_DELAY_SECONDS,
        )
    }

    /// Build from existing clients, computing queue delays and the
    /// queue-or-schedule choice at `clock`, delaying messages by at most
    /// `max_delay` seconds (see [`SqsJobQueue::with_max_delay`]).
    pub fn with_clock(
        config: Config,
        clients: Clients,
        clock: Arc<dyn Clock>,
        max_delay: i64,
    ) -> AwsPorts {
        let store = DynamoStore::new(clients.dynamodb.clone(), config.table.clone());
        let jobs = SqsJobQueue::new(clients.sqs.clone(), config.robot_queue_url.clone(), clock)
            .with_max_delay(max_delay);
        let events = SqsEventQueue::new(clients.sqs.clone(), config.event_queue_url.clone());
        let scheduler = EventBridgeScheduler::new(
            clients.scheduler.clone(),
            config.schedule_group.clone(),
            config.robot_queue_arn.clone(),
            config.scheduler_role_arn.clone(),
            config.schedule_dlq_arn.clone(),
            jobs.clone(),
        );
        let blobs = S3Blobs::new(clients.s3.clone(), config.blob_bucket.clone());
        AwsPorts {
            blobs: Arc::new(blobs),
            requests: clients.counter.clone(),
            store: Arc::new(store),
            jobs: Arc::new(jobs),
            scheduler: Arc::new(scheduler),
            events: Arc::new(events),
            clients,
            config,
        }
    }
}
