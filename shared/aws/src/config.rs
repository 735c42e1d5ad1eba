//! Configuration from the environment, and the AWS SDK clients built from it.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

use crate::counter::{RequestCounter, Service};
use crate::error::AwsError;

/// Account id LocalStack (and MiniStack) use for every resource.
pub const EMULATOR_ACCOUNT: &str = "000000000000";
/// Default table name (`CRM_TABLE`).
pub const DEFAULT_TABLE: &str = "crm-docs";
/// Default bucket of document templates and documents (`CRM_BLOB_BUCKET`), emulators only.
pub const DEFAULT_BLOB_BUCKET: &str = "crm-blobs";
/// Default schedule group (`CRM_SCHEDULE_GROUP`).
pub const DEFAULT_SCHEDULE_GROUP: &str = "crm-robots";
/// Default region (`AWS_REGION`).
pub const DEFAULT_REGION: &str = "us-east-1";
/// Queue name of the robot-actions queue when `CRM_ROBOT_QUEUE_URL` is not set (emulators only).
pub const DEFAULT_ROBOT_QUEUE: &str = "crm-robot-actions";
/// Queue name of the events queue when `CRM_EVENT_QUEUE_URL` is not set (emulators only).
pub const DEFAULT_EVENT_QUEUE: &str = "crm-events";
/// Queue name of the schedules' dead-letter queue when `CRM_SCHEDULE_DLQ_ARN` is not set (emulators only).
pub const DEFAULT_SCHEDULE_DLQ: &str = "crm-schedule-dlq";
/// Role name of the scheduler's execution role when `CRM_SCHEDULER_ROLE_ARN` is not set (emulators only).
pub const DEFAULT_SCHEDULER_ROLE: &str = "crm-scheduler";
/// The LocalStack endpoint that `infra/localstack.sh` starts.
pub const LOCALSTACK_ENDPOINT: &str = "http://127.0.0.1:4566";

/// One attempt of an AWS call may take this long (connect + response);
/// DynamoDB, SQS and Scheduler answer in milliseconds when healthy.
pub const ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
/// One AWS call, all its attempts and back-offs included, may take this long.
/// Well below the functions' 30 s timeout, so a hung call fails the message
/// (which is then retried) instead of the whole invocation.
pub const OPERATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Attempts of one AWS call by the SDK (standard mode: exponential back-off
/// with jitter on throttling and transient errors).
pub const SDK_MAX_ATTEMPTS: u32 = 3;

/// Operation and attempt timeouts of every client (set in one place).
pub fn sdk_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(2))
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// Timeouts against an emulator (a custom endpoint): LocalStack's DynamoDB
/// Local (a JVM) answers in seconds, not milliseconds, when dozens of tests
/// create tables and indexes at once; AWS's own latencies do not apply there.
pub fn emulator_sdk_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(5))
        .operation_attempt_timeout(std::time::Duration::from_secs(30))
        .operation_timeout(std::time::Duration::from_secs(60))
        .build()
}

/// Retry policy of every client (set in one place).
pub fn sdk_retries() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard().with_max_attempts(SDK_MAX_ATTEMPTS)
}

/// Names and addresses of the AWS resources the adapters use.
///
/// Read from the environment by [`Config::from_env`]:
///
/// | variable | field | default |
/// |---|---|---|
/// | `AWS_ENDPOINT_URL` | `endpoint_url` | none (real AWS) |
/// | `AWS_REGION` (or `AWS_DEFAULT_REGION`) | `region` | `us-east-1` |
/// | `CRM_TABLE` | `table` | `crm-docs` |
/// | `CRM_ROBOT_QUEUE_URL` | `robot_queue_url` | emulator only: `{endpoint}/000000000000/crm-robot-actions` |
/// | `CRM_EVENT_QUEUE_URL` | `event_queue_url` | emulator only: `{endpoint}/000000000000/crm-events` |
/// | `CRM_SCHEDULE_GROUP` | `schedule_group` | `crm-robots` |
/// | `CRM_SCHEDULER_ROLE_ARN` | `scheduler_role_arn` | emulator only: `arn:aws:iam::000000000000:role/crm-scheduler` |
/// | `CRM_ROBOT_QUEUE_ARN` | `robot_queue_arn` | emulator only: `arn:aws:sqs:{region}:000000000000:crm-robot-actions` |
/// | `CRM_SCHEDULE_DLQ_ARN` | `schedule_dlq_arn` | emulator only: `arn:aws:sqs:{region}:000000000000:crm-schedule-dlq` |
/// | `CRM_BLOB_BUCKET` | `blob_bucket` | emulator: `crm-blobs`; on AWS none (documents answer 503) |
/// | `CRM_RUN_RETENTION_DAYS` | `retention.runs` | 365 (30 to 3650: finished run records) |
/// | `CRM_MESSAGE_RETENTION_DAYS` | `retention.messages` | 365 (30 to 3650: sent or failed messages) |
///
/// "Emulator only": the default applies when `AWS_ENDPOINT_URL` is set; on real
/// AWS (no endpoint) a missing variable is an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Custom endpoint for every service (LocalStack); `None` = real AWS.
    pub endpoint_url: Option<String>,
    /// AWS region.
    pub region: String,
    /// DynamoDB table of all documents.
    pub table: String,
    /// URL of the robot-actions SQS queue.
    pub robot_queue_url: String,
    /// URL of the events SQS queue.
    pub event_queue_url: String,
    /// EventBridge Scheduler schedule group of the delayed robot runs.
    pub schedule_group: String,
    /// Role EventBridge Scheduler assumes to invoke the target.
    pub scheduler_role_arn: String,
    /// ARN of the robot-actions queue: the schedules' target (EventBridge
    /// Scheduler sends the job JSON there, so delayed and immediate runs
    /// share one retry, takeover and dead-letter path).
    pub robot_queue_arn: String,
    /// ARN of the SQS queue that receives schedule deliveries that failed.
    pub schedule_dlq_arn: String,
    /// S3 bucket of document templates and documents.
    pub blob_bucket: String,
    /// How long finished runs and sent messages are kept (the table's TTL
    /// deletes them then; `crm_core::retention`).
    pub retention: crm_core::retention::Retention,
}

impl Config {
    /// The configuration of an emulator at `endpoint` with every default name.
    pub fn emulator(endpoint: &str, region: &str) -> Config {
        let endpoint = endpoint.trim_end_matches('/');
        Config {
            endpoint_url: Some(endpoint.to_owned()),
            region: region.to_owned(),
            table: DEFAULT_TABLE.to_owned(),
            robot_queue_url: format!("{endpoint}/{EMULATOR_ACCOUNT}/{DEFAULT_ROBOT_QUEUE}"),
            event_queue_url: format!("{endpoint}/{EMULATOR_ACCOUNT}/{DEFAULT_EVENT_QUEUE}"),
            schedule_group: DEFAULT_SCHEDULE_GROUP.to_owned(),
            scheduler_role_arn: format!(
                "arn:aws:iam::{EMULATOR_ACCOUNT}:role/{DEFAULT_SCHEDULER_ROLE}"
            ),
            robot_queue_arn: format!(
                "arn:aws:sqs:{region}:{EMULATOR_ACCOUNT}:{DEFAULT_ROBOT_QUEUE}"
            ),
            schedule_dlq_arn: format!(
                "arn:aws:sqs:{region}:{EMULATOR_ACCOUNT}:{DEFAULT_SCHEDULE_DLQ}"
            ),
            blob_bucket: DEFAULT_BLOB_BUCKET.to_owned(),
            retention: crm_core::retention::Retention::default(),
        }
    }

    /// LocalStack as `infra/localstack.sh` starts it, with every default name.
    pub fn localstack() -> Config {
        Config::emulator(LOCALSTACK_ENDPOINT, DEFAULT_REGION)
    }

    /// Read the configuration from the process environment (see the table above).
    pub fn from_env() -> Result<Config, AwsError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`Config::from_env`] with a custom variable source (for tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, AwsError> {
        let get = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let region = get("AWS_REGION")
            .or_else(|| get("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| DEFAULT_REGION.to_owned());
        let endpoint_url = get("AWS_ENDPOINT_URL").map(|e| e.trim_end_matches('/').to_owned());
        let defaults = endpoint_url
            .as_deref()
            .map(|e| Config::emulator(e, &region));
        let required = |name: &str, default: Option<&String>| -> Result<String, AwsError> {
            get(name).or_else(|| default.cloned()).ok_or_else(|| {
                AwsError::Config(format!(
                    "{name} is not set (required unless AWS_ENDPOINT_URL points at an emulator)"
                ))
            })
        };
        let d = defaults.as_ref();
        let days = |name: &str| -> Result<i64, AwsError> {
            let Some(v) = get(name) else {
                return Ok(crm_core::retention::DEFAULT_RETENTION_DAYS);
            };
            let n = v.parse::<i64>().map_err(|_| {
                AwsError::Config(format!("{name}={v:?} is not a whole number of days"))
            })?;
            crm_core::retention::checked_days(name, n).map_err(|e| AwsError::Config(e.to_string()))
        };
        let retention = crm_core::retention::Retention {
            runs: chrono::Duration::days(days("CRM_RUN_RETENTION_DAYS")?),
            messages: chrono::Duration::days(days("CRM_MESSAGE_RETENTION_DAYS")?),
        };
        Ok(Config {
            retention,
            table: get("CRM_TABLE").unwrap_or_else(|| DEFAULT_TABLE.to_owned()),
            robot_queue_url: required("CRM_ROBOT_QUEUE_URL", d.map(|d| &d.robot_queue_url))?,
            event_queue_url: required("CRM_EVENT_QUEUE_URL", d.map(|d| &d.event_queue_url))?,
            schedule_group: get("CRM_SCHEDULE_GROUP")
                .unwrap_or_else(|| DEFAULT_SCHEDULE_GROUP.to_owned()),
            scheduler_role_arn: required(
                "CRM_SCHEDULER_ROLE_ARN",
                d.map(|d| &d.scheduler_role_arn),
            )?,
            robot_queue_arn: required("CRM_ROBOT_QUEUE_ARN", d.map(|d| &d.robot_queue_arn))?,
            schedule_dlq_arn: required("CRM_SCHEDULE_DLQ_ARN", d.map(|d| &d.schedule_dlq_arn))?,
            // Optional: without it the document features answer 503
            // (the other functions need no bucket).
            blob_bucket: get("CRM_BLOB_BUCKET")
                .or_else(|| d.map(|d| d.blob_bucket.clone()))
                .unwrap_or_default(),
            endpoint_url,
            region,
        })
    }

    /// Load the shared SDK configuration: region, endpoint, credentials.
    ///
    /// With a custom endpoint and no `AWS_ACCESS_KEY_ID` in the environment,
    /// dummy credentials (`test`/`test`) are used, which LocalStack accepts.
    ///
    /// Every client built from it (DynamoDB, SQS, Scheduler) shares the
    /// timeouts and retry policy of [`sdk_timeouts`] (on AWS; on an emulator
    /// [`emulator_sdk_timeouts`]) and [`sdk_retries`].
    pub async fn sdk_config(&self) -> SdkConfig {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .timeout_config(match self.endpoint_url {
                Some(_) => emulator_sdk_timeouts(),
                None => sdk_timeouts(),
            })
            .retry_config(sdk_retries());
        if let Some(endpoint) = &self.endpoint_url {
            loader = loader.endpoint_url(endpoint.clone());
            if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
                loader = loader
                    .credentials_provider(Credentials::new("test", "test", None, None, "crm-aws"));
            }
        }
        loader.load().await
    }

    /// Build the three SDK clients, each counting its requests into `counter`.
    pub async fn clients(&self, counter: &RequestCounter) -> Clients {
        let sdk = self.sdk_config().await;
        let mut clients = Clients::new(&sdk, counter);
        clients.s3 = crate::blobs::S3Blobs::client(&sdk, self);
        clients
    }

    /// Check that the custom endpoint (if any) accepts TCP connections, within
    /// two seconds. For tests, to fail fast with a clear message when the
    /// emulator is not running. Does nothing for real AWS.
    pub fn check_endpoint(&self) -> Result<(), AwsError> {
        use std::net::{TcpStream, ToSocketAddrs};
        let Some(endpoint) = &self.endpoint_url else {
            return Ok(());
        };
        let rest = endpoint
            .split_once("://")
            .map_or(endpoint.as_str(), |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or(rest);
        let default_port = if endpoint.starts_with("https") {
            443
        } else {
            80
        };
        let host_port = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority.to_owned()
        } else {
            format!("{authority}:{default_port}")
        };
        let unreachable = |why: String| {
            AwsError::Config(format!("AWS endpoint {endpoint} is not reachable ({why})"))
        };
        let addrs = host_port
            .to_socket_addrs()
            .map_err(|e| unreachable(e.to_string()))?;
        let mut last = String::from("no address");
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)) {
                Ok(_) => return Ok(()),
                Err(e) => last = e.to_string(),
            }
        }
        Err(unreachable(last))
    }

    /// The queue name at the end of a queue URL.
    pub fn queue_name(url: &str) -> &str {
        url.trim_end_matches('/').rsplit('/').next().unwrap_or(url)
    }

    /// The resource name at the end of an ARN (`…:name` or `…/name`).
    pub fn arn_name(arn: &str) -> &str {
        arn.rsplit([':', '/']).next().unwrap_or(arn)
    }
}

/// The SDK clients of the three services, sharing one [`RequestCounter`].
#[derive(Debug, Clone)]
pub struct Clients {
    /// DynamoDB client.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// SQS client.
    pub sqs: aws_sdk_sqs::Client,
    /// EventBridge Scheduler client.
    pub scheduler: aws_sdk_scheduler::Client,
    /// S3 client (blobs; its requests are not counted).
    pub s3: aws_sdk_s3::Client,
    /// Counts every HTTP request (attempt) the clients send.
    pub counter: RequestCounter,
}

impl Clients {
    /// Build clients from a loaded SDK configuration.
    pub fn new(sdk: &SdkConfig, counter: &RequestCounter) -> Clients {
        let dynamodb = aws_sdk_dynamodb::config::Builder::from(sdk)
            .interceptor(counter.interceptor(Service::DynamoDb))
            .build();
        let sqs = aws_sdk_sqs::config::Builder::from(sdk)
            .interceptor(counter.interceptor(Service::Sqs))
            .build();
        let scheduler = aws_sdk_scheduler::config::Builder::from(sdk)
            .interceptor(counter.interceptor(Service::Scheduler))
            .build();
        Clients {
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb),
            sqs: aws_sdk_sqs::Client::from_conf(sqs),
            scheduler: aws_sdk_scheduler::Client::from_conf(scheduler),
            s3: aws_sdk_s3::Client::new(sdk),
            counter: counter.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn emulator_defaults() {
        let c =
            Config::from_lookup(lookup(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:4566/")])).unwrap();
        assert_eq!(c.region, "us-east-1");
        assert_eq!(c.table, "crm-docs");
        assert_eq!(c.schedule_group, "crm-robots");
        assert_eq!(
            c.robot_queue_url,
            "http://127.0.0.1:4566/000000000000/crm-robot-actions"
        );
        assert_eq!(Config::queue_name(&c.event_queue_url), "crm-events");
        assert_eq!(Config::arn_name(&c.schedule_dlq_arn), "crm-schedule-dlq");
        assert_eq!(Config::arn_name(&c.scheduler_role_arn), "crm-scheduler");
        assert_eq!(Config::arn_name(&c.robot_queue_arn), "crm-robot-actions");
        assert_eq!(c, Config::localstack());
    }

    #[test]
    fn real_aws_requires_names() {
        let err = Config::from_lookup(lookup(&[("AWS_REGION", "eu-west-1")])).unwrap_err();
        assert!(err.to_string().contains("CRM_ROBOT_QUEUE_URL"), "{err}");
        let c = Config::from_lookup(lookup(&[
            ("AWS_REGION", "eu-west-1"),
            ("CRM_TABLE", "t"),
            ("CRM_ROBOT_QUEUE_URL", "https://sqs/1/r"),
            ("CRM_EVENT_QUEUE_URL", "https://sqs/1/e"),
            ("CRM_SCHEDULE_GROUP", "g"),
            ("CRM_SCHEDULER_ROLE_ARN", "arn:aws:iam::1:role/r"),
            ("CRM_ROBOT_QUEUE_ARN", "arn:aws:sqs:eu-west-1:1:r"),
            ("CRM_SCHEDULE_DLQ_ARN", "arn:aws:sqs:eu-west-1:1:d"),
        ]))
        .unwrap();
        assert_eq!(c.endpoint_url, None);
        assert_eq!(c.region, "eu-west-1");
        assert_eq!(c.table, "t");
        assert_eq!(c.schedule_group, "g");
    }

    #[test]
    fn retention_is_read_in_days_and_checked() {
        let endpoint = ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566");
        let c = Config::from_lookup(lookup(&[endpoint])).unwrap();
        assert_eq!(c.retention, crm_core::retention::Retention::default());
        let c = Config::from_lookup(lookup(&[
            endpoint,
            ("CRM_RUN_RETENTION_DAYS", "30"),
            ("CRM_MESSAGE_RETENTION_DAYS", "400"),
        ]))
        .unwrap();
        assert_eq!(
            c.retention,
            crm_core::retention::Retention::days(30, 400).unwrap()
        );
        for bad in ["14", "4000", "a year"] {
            let err = Config::from_lookup(lookup(&[endpoint, ("CRM_RUN_RETENTION_DAYS", bad)]))
                .unwrap_err();
            assert!(err.to_string().contains("CRM_RUN_RETENTION_DAYS"), "{err}");
        }
    }
}
