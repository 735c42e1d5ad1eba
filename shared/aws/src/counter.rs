//! Counting AWS requests, so a benchmark can report "requests per stage change".

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};

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

    /// Count one request to `service` (the interceptor calls this).
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
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        self.counter.record(self.service);
        Ok(())
    }
}
