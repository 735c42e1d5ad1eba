//! Counting AWS requests, so a benchmark can report "requests per stage change".

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
    BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{Storable, StoreReplace};

use crate::billing::{Meter, PendingRequest};

/// The AWS service a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// DynamoDB.
    DynamoDb,
    /// SQS.
    Sqs,
    /// EventBridge Scheduler.
    Scheduler,
}

/// Requests sent so far, per service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// DynamoDB requests.
    pub dynamodb: u64,
    /// SQS requests.
    pub sqs: u64,
    /// EventBridge Scheduler requests.
    pub scheduler: u64,
}

impl RequestCounts {
    /// All requests.
    pub fn total(&self) -> u64 {
        self.dynamodb + self.sqs + self.scheduler
    }
}

impl std::ops::Sub for RequestCounts {
    type Output = RequestCounts;
    fn sub(self, rhs: RequestCounts) -> RequestCounts {
        RequestCounts {
            dynamodb: self.dynamodb.saturating_sub(rhs.dynamodb),
            sqs: self.sqs.saturating_sub(rhs.sqs),
            scheduler: self.scheduler.saturating_sub(rhs.scheduler),
        }
    }
}

impl std::fmt::Display for RequestCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} requests (dynamodb {}, sqs {}, scheduler {})",
            self.total(),
            self.dynamodb,
            self.sqs,
            self.scheduler
        )
    }
}

#[derive(Debug, Default)]
struct Counters {
    dynamodb: AtomicU64,
    sqs: AtomicU64,
    scheduler: AtomicU64,
    /// `service:Operation` → requests.
    calls: Mutex<BTreeMap<String, u64>>,
    /// Billed units of every request, when metering (cost reports).
    meter: Option<Meter>,
}

impl Service {
    fn prefix(self) -> &'static str {
        match self {
            Service::DynamoDb => "dynamodb",
            Service::Sqs => "sqs",
            Service::Scheduler => "scheduler",
        }
    }
}

/// The operation of a request: the `X-Amz-Target` action (DynamoDB, SQS JSON
/// protocol), else Scheduler's REST method and path.
fn operation(method: &str, path: &str, target: Option<&str>) -> String {
    if let Some(t) = target {
        return t.rsplit('.').next().unwrap_or(t).to_string();
    }
    let one = path.trim_start_matches('/').split('/').count() > 1;
    match (method, path.starts_with("/schedules"), one) {
        ("POST", true, true) => "CreateSchedule".into(),
        ("DELETE", true, true) => "DeleteSchedule".into(),
        ("GET", true, true) => "GetSchedule".into(),
        ("GET", true, false) => "ListSchedules".into(),
        _ => format!("{method} {}", path.split('?').next().unwrap_or(path)),
    }
}

/// Shared, cheap counter of the HTTP requests the SDK clients send: one
/// increment per attempt (SDK retries count), installed as an SDK interceptor.
/// Clones share the counts.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    inner: Arc<Counters>,
}

impl RequestCounter {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// A counter that also meters what AWS bills for each request (see
    /// [`crate::billing`]): DynamoDB requests then ask for their
    /// `ConsumedCapacity`, so use it for cost reports, not in production.
    pub fn metering() -> Self {
        RequestCounter {
            inner: Arc::new(Counters {
                meter: Some(Meter::new()),
                ..Counters::default()
            }),
        }
    }

    /// The meter, if this counter meters.
    pub fn meter(&self) -> Option<&Meter> {
        self.inner.meter.as_ref()
    }

    /// The counts so far.
    pub fn snapshot(&self) -> RequestCounts {
        RequestCounts {
            dynamodb: self.inner.dynamodb.load(Ordering::Relaxed),
            sqs: self.inner.sqs.load(Ordering::Relaxed),
            scheduler: self.inner.scheduler.load(Ordering::Relaxed),
        }
    }

    /// All requests so far.
    pub fn total(&self) -> u64 {
        self.snapshot().total()
    }

    /// Requests per `service:Operation` so far (e.g. `sqs:SendMessageBatch`).
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.inner.calls.lock().expect("counter lock").clone()
    }

    /// Count one request of `operation` to `service`.
    pub fn record_call(&self, service: Service, operation: &str) {
        self.record(service);
        *self
            .inner
            .calls
            .lock()
            .expect("counter lock")
            .entry(format!("{}:{operation}", service.prefix()))
            .or_default() += 1;
    }

    /// Count one request to `service`.
    pub fn record(&self, service: Service) {
        let c = match service {
            Service::DynamoDb => &self.inner.dynamodb,
            Service::Sqs => &self.inner.sqs,
            Service::Scheduler => &self.inner.scheduler,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// An SDK interceptor that counts into this counter.
    pub fn interceptor(&self, service: Service) -> CountingInterceptor {
        CountingInterceptor {
            counter: self.clone(),
            service,
        }
    }
}

/// What a metered request sends, kept for its response.
#[derive(Debug, Clone)]
struct Metered {
    operation: String,
    request_len: usize,
    dynamodb: Option<PendingRequest>,
}

impl Storable for Metered {
    type Storer = StoreReplace<Self>;
}

/// The path of a request URI.
fn path_of(uri: &str) -> &str {
    uri.split("://")
        .nth(1)
        .map_or(uri, |rest| rest.find('/').map_or("/", |i| &rest[i..]))
}

/// SDK interceptor counting every transmitted request (see [`RequestCounter`]).
#[derive(Debug, Clone)]
pub struct CountingInterceptor {
    counter: RequestCounter,
    service: Service,
}

impl Intercept for CountingInterceptor {
    fn name(&self) -> &'static str {
        "crm-aws-request-counter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let req = context.request();
        let op = operation(
            req.method(),
            path_of(req.uri()),
            req.headers().get("x-amz-target"),
        );
        self.counter.record_call(self.service, &op);
        Ok(())
    }

    /// Metering: remember what the request sends (before signing, so that
    /// DynamoDB requests can ask for their consumed capacity).
    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let Some(meter) = self.counter.meter() else {
            return Ok(());
        };
        let req = context.request_mut();
        let op = operation(
            req.method(),
            path_of(req.uri()),
            req.headers().get("x-amz-target"),
        );
        if self.service == Service::Scheduler {
            meter_scheduler(meter, &op);
            return Ok(());
        }
        let body = req.body().bytes().unwrap_or_default().to_vec();
        let mut metered = Metered {
            operation: op.clone(),
            request_len: body.len(),
            dynamodb: None,
        };
        if self.service == Service::DynamoDb {
            let (rewritten, pending) = Meter::dynamodb_request(&op, &body);
            if let Some(new_body) = rewritten {
                req.headers_mut()
                    .insert("content-length", new_body.len().to_string());
                *req.body_mut() = SdkBody::from(new_body);
            }
            metered.dynamodb = Some(pending);
        }
        cfg.interceptor_state().store_put(metered);
        Ok(())
    }

    /// Metering: bill a request by its (successful) response.
    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let (Some(meter), Some(metered)) = (self.counter.meter(), cfg.load::<Metered>()) else {
            return Ok(());
        };
        let resp = context.response();
        if !resp.status().is_success() {
            return Ok(());
        }
        let body = resp.body().bytes().unwrap_or_default();
        match &metered.dynamodb {
            Some(pending) => meter.dynamodb_response(pending, body),
            None => meter.sqs(&metered.operation, metered.request_len, body),
        }
        Ok(())
    }
}

/// Scheduler API requests are free; their invocations are metered where
/// a schedule fires.
fn meter_scheduler(meter: &Meter, _operation: &str) {
    meter.record_scheduler_api();
}

#[cfg(test)]
mod operation_tests {
    use super::operation;

    #[test]
    fn operations_are_named() {
        assert_eq!(
            operation("POST", "/", Some("DynamoDB_20120810.TransactWriteItems")),
            "TransactWriteItems"
        );
        assert_eq!(
            operation("POST", "/", Some("AmazonSQS.SendMessageBatch")),
            "SendMessageBatch"
        );
        assert_eq!(
            operation("POST", "/schedules/run-x", None),
            "CreateSchedule"
        );
        assert_eq!(
            operation("DELETE", "/schedules/run-x?groupName=g", None),
            "DeleteSchedule"
        );
        assert_eq!(
            operation("GET", "/schedules?groupName=g", None),
            "ListSchedules"
        );
    }
}
