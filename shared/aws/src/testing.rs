//! Support for tests that run the adapters against LocalStack (or AWS):
//! isolated per-run queues and schedule group, provisioning, and delivering
//! due jobs by hand (LocalStack stores schedules but never fires them).
//!
//! ```no_run
//! # async fn t() {
//! let ports = crm_aws::testing::isolated_ports("my-test").await.expect("LocalStack");
//! // … use ports.store / ports.jobs / ports.scheduler / ports.events …
//! let due = crm_aws::testing::take_due(&ports, chrono::Utc::now()).await.unwrap();
//! crm_aws::testing::teardown(&ports).await.unwrap();
//! # }
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use crm_core::ports::Job;

use crate::config::Config;
use crate::error::AwsError;
use crate::{AwsPorts, provision};

/// The configuration tests run against: [`Config::from_env`] when
/// `AWS_ENDPOINT_URL` is set, otherwise LocalStack as `infra/localstack.sh`
/// starts it.
pub fn base_config() -> Result<Config, AwsError> {
    if std::env::var_os("AWS_ENDPOINT_URL").is_some() {
        Config::from_env()
    } else {
        Ok(Config::localstack())
    }
}

/// A short name unique to this process and call: `{prefix}-{time}-{pid}-{n}`,
/// restricted to characters valid in queue and schedule group names.
pub fn unique_name(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let clean: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(20)
        .collect();
    let time = Utc::now().timestamp_millis() % 0x1_0000_0000;
    format!("{clean}-{time:x}-{:x}-{n}", std::process::id())
}

/// `base` with its own robot and event queues and schedule group named after
/// `run` (so parallel test runs never receive each other's messages); the
/// table and the schedules' DLQ are shared (tenants keep documents apart).
pub fn isolated_config(base: &Config, run: &str) -> Config {
    let with_queue = |url: &str, name: String| {
        let cut = url.trim_end_matches('/').rfind('/').map_or(0, |i| i + 1);
        format!("{}{name}", &url[..cut])
    };
    let with_arn = |arn: &str, name: String| {
        let cut = arn.rfind(':').map_or(0, |i| i + 1);
        format!("{}{name}", &arn[..cut])
    };
    Config {
        robot_queue_url: with_queue(&base.robot_queue_url, format!("{run}-robot")),
        robot_queue_arn: with_arn(&base.robot_queue_arn, format!("{run}-robot")),
        event_queue_url: with_queue(&base.event_queue_url, format!("{run}-events")),
        schedule_group: format!("{run}-sched"),
        ..base.clone()
    }
}

/// The message to fail with when the emulator is not reachable.
fn unreachable(config: &Config, err: AwsError) -> AwsError {
    let why = match err {
        AwsError::Config(m) => m,
        other => other.to_string(),
    };
    AwsError::Config(format!(
        "{why}. LocalStack is not running at {}: start it with `infra/localstack.sh start` \
         (or point AWS_ENDPOINT_URL at a running emulator)",
        config.endpoint_url.as_deref().unwrap_or("(AWS)")
    ))
}

/// Fail fast, with instructions, if the configured endpoint does not answer.
pub fn require_endpoint(config: &Config) -> Result<(), AwsError> {
    config.check_endpoint().map_err(|e| unreachable(config, e))
}

/// Ports on freshly provisioned, per-run queues and schedule group (see
/// [`isolated_config`]), for a test named `prefix`. Fails (does not skip)
/// when LocalStack is not reachable.
pub async fn isolated_ports(prefix: &str) -> Result<AwsPorts, AwsError> {
    let base = base_config()?;
    require_endpoint(&base)?;
    let config = isolated_config(&base, &unique_name(prefix));
    let ports = AwsPorts::new(config).await;
    provision::ensure_resources_with(&ports.clients, &ports.config).await?;
    Ok(ports)
}

/// [`isolated_ports`] whose clients meter what AWS bills for each request
/// ([`crate::counter::RequestCounter::metering`]), for cost reports.
pub async fn metered_ports(prefix: &str) -> Result<AwsPorts, AwsError> {
    let base = base_config()?;
    require_endpoint(&base)?;
    let config = isolated_config(&base, &unique_name(prefix));
    let counter = crate::counter::RequestCounter::metering();
    let clients = config.clients(&counter).await;
    let ports = AwsPorts::from_clients(config, clients);
    provision::ensure_resources_with(&ports.clients, &ports.config).await?;
    Ok(ports)
}

/// Delete the per-run queues (with their DLQs) and schedule group of
/// [`isolated_ports`]. Best effort for the queues: a missing queue is fine.
pub async fn teardown(ports: &AwsPorts) -> Result<(), AwsError> {
    let sqs = &ports.clients.sqs;
    for url in [&ports.config.robot_queue_url, &ports.config.event_queue_url] {
        for u in [url.clone(), format!("{url}-dlq")] {
            if let Err(e) = sqs.delete_queue().queue_url(&u).send().await {
                tracing::debug!(url = %u, error = %crate::error::describe(&e), "delete queue");
            }
        }
    }
    provision::delete_schedule_group(&ports.clients.scheduler, &ports.config.schedule_group).await
}

/// Deliver by hand what AWS would deliver by `now`: every job on the robot
/// queue whose `due_at <= now` (received and deleted; later ones are made
/// visible again), then every schedule of the group whose job is due
/// (deleted, as ActionAfterCompletion DELETE would). Earliest first.
pub async fn take_due(ports: &AwsPorts, now: DateTime<Utc>) -> Result<Vec<Job>, AwsError> {
    let queue = ports.jobs.queue();
    // Emulators answer short polls exactly; real SQS needs a little long polling.
    let wait = if ports.config.endpoint_url.is_some() {
        0
    } else {
        2
    };
    let mut due = Vec::new();
    let mut done = Vec::new();
    let mut later = Vec::new();
    loop {
        let batch = queue.receive::<Job>(10, wait).await?;
        if batch.is_empty() {
            break;
        }
        for m in batch {
            if m.body.due_at <= now {
                done.push(m.receipt_handle);
                due.push(m.body);
            } else {
                later.push(m.receipt_handle);
            }
        }
    }
    queue.ack(&done).await?;
    for handle in &later {
        queue.release(handle).await?;
    }
    for (name, job) in ports.scheduler.list_due(now).await? {
        ports.scheduler.delete(&name).await?;
        due.push(job);
    }
    due.sort_by_key(|j| j.due_at);
    Ok(due)
}

/// An SQS record as Lambda delivers it, from the queue named `queue` (in the
/// emulator's account): the records of the Lambda handlers' unit tests.
#[cfg(any(test, feature = "testing"))]
pub fn sqs_record(id: &str, body: &str, queue: &str) -> serde_json::Value {
    serde_json::json!({
        "messageId": id,
        "receiptHandle": format!("AQEB{id}"),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1763887500000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1763887500010"
        },
        "messageAttributes": {},
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": format!("arn:aws:sqs:us-east-1:000000000000:{queue}"),
        "awsRegion": "us-east-1"
    })
}
