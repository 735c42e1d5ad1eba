//! The contract suite on the AWS adapters (crm-aws), against LocalStack or
//! whatever `AWS_ENDPOINT_URL` points at.
//!
//! Needs a running emulator: `infra/localstack.sh start`. When it is not
//! reachable these tests fail (they do not skip). Each run gets its own
//! queues and schedule group (deleted at the end) and fresh tenants in the
//! shared table.

use chrono::{DateTime, Utc};
use crm_aws::AwsPorts;
use crm_aws::testing::{isolated_ports, take_due, teardown};
use crm_core::model::QueuedEvent;
use crm_core::ports::Job;
use crm_tests::contract::{self, BoxFuture, DrainEvents, DrainJobs};

/// Delivers what AWS would: due jobs received (and deleted) from the
/// robot-actions queue, and due schedules read and deleted (LocalStack stores
/// schedules but never fires them).
struct Drain<'a>(&'a AwsPorts);

impl DrainJobs for Drain<'_> {
    fn take_due(&self, now: DateTime<Utc>) -> BoxFuture<'_, Vec<Job>> {
        Box::pin(async move {
            take_due(self.0, now)
                .await
                .unwrap_or_else(|e| panic!("taking due jobs from SQS/Scheduler: {e}"))
        })
    }
}

/// Delivers what the trigger-eval function's event source would: every
/// message of the events queue, received and deleted.
struct DrainSqsEvents<'a>(&'a AwsPorts);

impl DrainEvents for DrainSqsEvents<'_> {
    fn take_all(&self) -> BoxFuture<'_, Vec<QueuedEvent>> {
        Box::pin(async move {
            let queue = self.0.events.queue();
            let mut out = Vec::new();
            loop {
                let batch = queue
                    .receive::<QueuedEvent>(10, 1)
                    .await
                    .unwrap_or_else(|e| panic!("receiving events from SQS: {e}"));
                if batch.is_empty() {
                    return out;
                }
                let handles: Vec<String> = batch.iter().map(|m| m.receipt_handle.clone()).collect();
                queue
                    .ack(&handles)
                    .await
                    .unwrap_or_else(|e| panic!("deleting events from SQS: {e}"));
                out.extend(batch.into_iter().map(|m| m.body));
            }
        })
    }
}

async fn ports(test: &str) -> AwsPorts {
    isolated_ports(test).await.unwrap_or_else(|e| {
        panic!("the AWS contract tests need LocalStack (run `infra/localstack.sh start`): {e}")
    })
}

#[tokio::test]
async fn dynamo_store_passes_the_store_contract() {
    let p = ports("contract-store").await;
    contract::run_all_store(&*p.store, &contract::unique_tenant("aws")).await;
    eprintln!("store contract: {}", p.requests.snapshot());
    teardown(&p).await.expect("teardown");
}

#[tokio::test]
async fn sqs_and_scheduler_pass_the_jobs_contract() {
    let p = ports("contract-jobs").await;
    // The contract runs on virtual time (`take_due(now)` with a `now` hours
    // ahead): messages are sent at once and the drain holds the jobs that
    // are not due, instead of SQS holding them for real seconds.
    let p = AwsPorts::with_clock(
        p.config,
        p.clients,
        std::sync::Arc::new(crm_core::system::SystemClock),
        0,
    );
    contract::run_all_jobs(
        &*p.jobs,
        &*p.scheduler,
        &Drain(&p),
        &contract::unique_tenant("aws"),
    )
    .await;
    eprintln!("jobs contract: {}", p.requests.snapshot());
    teardown(&p).await.expect("teardown");
}

/// The producer side only: on AWS the trigger-eval function's SQS event
/// source consumes the queue, so the consumer contract (take / ack / park)
/// is not run here.
#[tokio::test]
async fn sqs_event_queue_passes_the_events_contract() {
    let p = ports("contract-events").await;
    contract::run_all_events(
        &*p.events,
        &DrainSqsEvents(&p),
        &contract::unique_tenant("aws"),
    )
    .await;
    eprintln!("events contract: {}", p.requests.snapshot());
    teardown(&p).await.expect("teardown");
}

#[tokio::test]
async fn dynamo_store_pages_every_list() {
    let p = ports("contract-lists").await;
    crm_tests::list_contract::run_all_lists(p.store.clone(), &contract::unique_tenant("aws")).await;
    teardown(&p).await.expect("teardown");
}

#[tokio::test]
async fn dynamo_store_keeps_audiences() {
    let p = ports("contract-audiences").await;
    crm_tests::audience_contract::run_all_audiences(
        p.store.clone(),
        &contract::unique_tenant("aws"),
    )
    .await;
    teardown(&p).await.expect("teardown");
}

#[tokio::test]
async fn dynamo_store_keeps_tracking_keys() {
    let p = ports("contract-tracking").await;
    crm_tests::tracking_contract::run_all_tracking(
        p.store.clone(),
        &contract::unique_tenant("aws"),
    )
    .await;
    teardown(&p).await.expect("teardown");
}

#[tokio::test]
async fn dynamo_store_keeps_inbound_addresses() {
    let p = ports("contract-inbound").await;
    crm_tests::inbound_contract::run_all_inbound(p.store.clone(), &contract::unique_tenant("aws"))
        .await;
    teardown(&p).await.expect("teardown");
}
