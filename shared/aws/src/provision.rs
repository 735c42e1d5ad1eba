//! Idempotent creation of the AWS resources the adapters need, for LocalStack
//! and tests. Production resources come from `infra/template.yaml`; this
//! mirrors it (same keys, stream, TTL, redrive, visibility timeouts).

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    StreamSpecification, StreamViewType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_sqs::types::QueueAttributeName;
use tracing::info;

use crate::config::{Clients, Config};
use crate::counter::RequestCounter;
use crate::error::{AwsError, code_of};
use crate::outbox_index;

/// Name of the TTL attribute of the table.
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// Visibility timeout of both queues: 6 × the consuming functions' 30 s timeout.
pub const QUEUE_VISIBILITY_SECONDS: u32 = 180;
/// Receives before a message moves to its queue's dead-letter queue.
pub const MAX_RECEIVE_COUNT: u32 = 5;
/// Retention of dead-letter queues (14 days, SQS's maximum).
pub const DLQ_RETENTION_SECONDS: u32 = 1_209_600;

/// What [`ensure_resources`] found or created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    /// The table's stream ARN (`None` if the backend reports none).
    pub stream_arn: Option<String>,
    /// URL of the robot-actions queue's dead-letter queue.
    pub robot_dlq_url: String,
    /// URL of the events queue's dead-letter queue.
    pub event_dlq_url: String,
    /// URL of the schedules' dead-letter queue.
    pub schedule_dlq_url: String,
}

/// Create whatever is missing of: the table (`pk`/`sk` strings, on-demand,
/// stream NEW_IMAGE, TTL on `expires_at`, the outbox time index), the
/// robot-actions and events queues with their dead-letter queues (`{name}-dlq`) and redrive policies, the
/// schedules' dead-letter queue and the schedule group. Safe to call
/// concurrently and repeatedly. Names come from `config`.
pub async fn ensure_resources(config: &Config) -> Result<Resources, AwsError> {
    let clients = config.clients(&RequestCounter::new()).await;
    ensure_resources_with(&clients, config).await
}

/// [`ensure_resources`] with existing clients.
pub async fn ensure_resources_with(
    clients: &Clients,
    config: &Config,
) -> Result<Resources, AwsError> {
    let stream_arn = ensure_table(&clients.dynamodb, &config.table).await?;
    let robot_dlq_url =
        ensure_queue_with_dlq(&clients.sqs, Config::queue_name(&config.robot_queue_url)).await?;
    let event_dlq_url =
        ensure_queue_with_dlq(&clients.sqs, Config::queue_name(&config.event_queue_url)).await?;
    let schedule_dlq_url = ensure_queue(
        &clients.sqs,
        Config::arn_name(&config.schedule_dlq_arn),
        &[(
            QueueAttributeName::MessageRetentionPeriod,
            DLQ_RETENTION_SECONDS.to_string(),
        )],
    )
    .await?;
    ensure_schedule_group(&clients.scheduler, &config.schedule_group).await?;
    Ok(Resources {
        stream_arn,
        robot_dlq_url,
        event_dlq_url,
        schedule_dlq_url,
    })
}

/// Create the table if it does not exist, wait until it is active, make sure
/// its stream and TTL are on. Returns the stream ARN.
pub async fn ensure_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<Option<String>, AwsError> {
    let stream = StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::NewImage)
        .build()
        .map_err(|e| AwsError::Config(e.to_string()))?;
    let exists = match client.describe_table().table_name(table).send().await {
        Ok(_) => true,
        Err(e) if code_of(&e) == Some("ResourceNotFoundException") => false,
        Err(e) => return Err(AwsError::sdk("DescribeTable", e)),
    };
    if !exists {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| AwsError::Config(e.to_string()))
        };
        let key = |name: &str, t: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(t)
                .build()
                .map_err(|e| AwsError::Config(e.to_string()))
        };
        let [sweep_pk, sweep_sk] = outbox_index::index_attribute_definitions()
            .map_err(|e| AwsError::Config(e.to_string()))?;
        let created = client
            .create_table()
            .table_name(table)
            .attribute_definitions(attr("pk")?)
            .attribute_definitions(attr("sk")?)
            .attribute_definitions(sweep_pk)
            .attribute_definitions(sweep_sk)
            .global_secondary_indexes(
                outbox_index::index_definition().map_err(|e| AwsError::Config(e.to_string()))?,
            )
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .billing_mode(BillingMode::PayPerRequest)
            .stream_specification(stream.clone())
            .send()
            .await;
        match created {
            Ok(_) => info!(table, "created table"),
            // Created concurrently by someone else.
            Err(e) if code_of(&e) == Some("ResourceInUseException") => {}
            Err(e) => return Err(AwsError::sdk("CreateTable", e)),
        }
    }
    // Wait until active.
    let mut description = None;
    for _ in 0..120 {
        let out = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| AwsError::sdk("DescribeTable", e))?;
        if let Some(t) = out.table
            && t.table_status() == Some(&TableStatus::Active)
        {
            description = Some(t);
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let description = description
        .ok_or_else(|| AwsError::Timeout(format!("table {table} not active after 30 s")))?;
    outbox_index::ensure_index(client, table, &description).await?;
    let mut stream_arn = description.latest_stream_arn().map(str::to_owned);
    let stream_on = description.stream_specification().is_some_and(|s| {
        s.stream_enabled() && s.stream_view_type() == Some(&StreamViewType::NewImage)
    });
    if !stream_on {
        let out = client
            .update_table()
            .table_name(table)
            .stream_specification(stream)
            .send()
            .await
            .map_err(|e| AwsError::sdk("UpdateTable", e))?;
        stream_arn = out
            .table_description()
            .and_then(|t| t.latest_stream_arn())
            .map(str::to_owned);
        info!(table, "enabled the table's stream");
    }
    let ttl = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| AwsError::sdk("DescribeTimeToLive", e))?;
    let ttl_status = ttl
        .time_to_live_description()
        .and_then(|d| d.time_to_live_status())
        .cloned();
    if !matches!(
        ttl_status,
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    ) {
        let spec = TimeToLiveSpecification::builder()
            .attribute_name(TTL_ATTRIBUTE)
            .enabled(true)
            .build()
            .map_err(|e| AwsError::Config(e.to_string()))?;
        match client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(spec)
            .send()
            .await
        {
            Ok(_) => info!(table, "enabled TTL on {TTL_ATTRIBUTE}"),
            // "TimeToLive is already enabled" (a concurrent caller).
            Err(e) if code_of(&e) == Some("ValidationException") => {}
            Err(e) => return Err(AwsError::sdk("UpdateTimeToLive", e)),
        }
    }
    Ok(stream_arn)
}

/// Create a queue (or update its attributes if it exists with others); returns its URL.
async fn ensure_queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    attributes: &[(QueueAttributeName, String)],
) -> Result<String, AwsError> {
    let mut req = client.create_queue().queue_name(name);
    for (k, v) in attributes {
        req = req.attributes(k.clone(), v);
    }
    match req.send().await {
        Ok(out) => out
            .queue_url
            .ok_or_else(|| AwsError::Decode(format!("CreateQueue {name}: no QueueUrl"))),
        Err(e) if matches!(code_of(&e), Some("QueueAlreadyExists" | "QueueNameExists")) => {
            let url = client
                .get_queue_url()
                .queue_name(name)
                .send()
                .await
                .map_err(|e| AwsError::sdk("GetQueueUrl", e))?
                .queue_url
                .ok_or_else(|| AwsError::Decode(format!("GetQueueUrl {name}: no QueueUrl")))?;
            let mut set = client.set_queue_attributes().queue_url(&url);
            for (k, v) in attributes {
                set = set.attributes(k.clone(), v);
            }
            set.send()
                .await
                .map_err(|e| AwsError::sdk("SetQueueAttributes", e))?;
            Ok(url)
        }
        Err(e) => Err(AwsError::sdk("CreateQueue", e)),
    }
}

async fn queue_arn(client: &aws_sdk_sqs::Client, url: &str) -> Result<String, AwsError> {
    client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| AwsError::sdk("GetQueueAttributes", e))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| AwsError::Decode(format!("no QueueArn for {url}")))
}

/// Create `{name}-dlq` and `name` redriving to it; returns the DLQ's URL.
async fn ensure_queue_with_dlq(
    client: &aws_sdk_sqs::Client,
    name: &str,
) -> Result<String, AwsError> {
    let dlq_url = ensure_queue(
        client,
        &format!("{name}-dlq"),
        &[(
            QueueAttributeName::MessageRetentionPeriod,
            DLQ_RETENTION_SECONDS.to_string(),
        )],
    )
    .await?;
    let dlq_arn = queue_arn(client, &dlq_url).await?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": MAX_RECEIVE_COUNT.to_string(),
    })
    .to_string();
    ensure_queue(
        client,
        name,
        &[
            (
                QueueAttributeName::VisibilityTimeout,
                QUEUE_VISIBILITY_SECONDS.to_string(),
            ),
            (QueueAttributeName::RedrivePolicy, redrive),
        ],
    )
    .await?;
    Ok(dlq_url)
}

/// Create the schedule group if it does not exist.
pub async fn ensure_schedule_group(
    client: &aws_sdk_scheduler::Client,
    group: &str,
) -> Result<(), AwsError> {
    match client.create_schedule_group().name(group).send().await {
        Ok(_) => {
            info!(group, "created schedule group");
            Ok(())
        }
        Err(e) if code_of(&e) == Some("ConflictException") => Ok(()),
        Err(e) => Err(AwsError::sdk("CreateScheduleGroup", e)),
    }
}

/// Delete a schedule group and its schedules (test clean-up); a missing group is fine.
pub async fn delete_schedule_group(
    client: &aws_sdk_scheduler::Client,
    group: &str,
) -> Result<(), AwsError> {
    match client.delete_schedule_group().name(group).send().await {
        Ok(_) => Ok(()),
        Err(e) if code_of(&e) == Some("ResourceNotFoundException") => Ok(()),
        Err(e) => Err(AwsError::sdk("DeleteScheduleGroup", e)),
    }
}
