//! Fault tests of the robot path on LocalStack, one per way a run could be
//! lost, delayed for ever or run early on real AWS: a schedule that fires
//! early, a runner that dies before its commit, a throttled transaction, a
//! write the store rejects for good, duplicate deliveries. Faults in
//! DynamoDB's answers are injected below the adapter (an SDK interceptor
//! that answers chosen requests with the error AWS would send), so the
//! adapter's own error handling is what is tested.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use chrono::{DateTime, Duration, Utc};
use crm_aws::{AwsPorts, Clients, RequestCounter, Service};
use crm_core::model::{Item, RunRecord, RunStatus};
use crm_core::testing::{MONDAY_1144_MSK, at, body, plain_deal};
use crm_tests::aws_rig::{AwsRig, rig_ports};
use serde_json::{Value, json};

/// What the injector does with the next matching request.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Let it through (for plans that fail a later request of an
    /// operation; none needs it since runs are no longer claimed first).
    #[allow(dead_code)]
    Pass,
    /// Answer it with this HTTP 400 error body (the request never reaches
    /// the table: it is swapped for a harmless read).
    Fail(&'static str),
}

/// Answers chosen DynamoDB operations with errors, in order.
#[derive(Debug, Default)]
struct Injector {
    /// (operation, fault) to apply to the next requests of that operation.
    plan: Mutex<VecDeque<(&'static str, Fault)>>,
    /// The error body to answer the request in flight with.
    armed: Mutex<Option<&'static str>>,
    /// How many errors were injected.
    injected: Mutex<usize>,
}

impl Injector {
    fn plan(&self, op: &'static str, faults: impl IntoIterator<Item = Fault>) {
        self.plan
            .lock()
            .unwrap()
            .extend(faults.into_iter().map(|f| (op, f)));
    }

    fn injected(&self) -> usize {
        *self.injected.lock().unwrap()
    }

    fn left(&self) -> usize {
        self.plan.lock().unwrap().len()
    }
}

#[derive(Debug, Clone)]
struct Inject(Arc<Injector>);

impl Intercept for Inject {
    fn name(&self) -> &'static str {
        "FaultInjector"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let target = request
            .headers()
            .get("x-amz-target")
            .unwrap_or_default()
            .to_owned();
        let mut plan = self.0.plan.lock().unwrap();
        let Some(i) = plan.iter().position(|(op, _)| target.ends_with(op)) else {
            return Ok(());
        };
        let (_, fault) = plan.remove(i).expect("planned");
        if let Fault::Fail(error) = fault {
            // Nothing is written: the request becomes a harmless read whose
            // answer is replaced by the error.
            request
                .headers_mut()
                .insert("x-amz-target", "DynamoDB_20120810.DescribeLimits");
            request.headers_mut().insert("content-length", "2");
            *request.body_mut() = "{}".into();
            *self.0.armed.lock().unwrap() = Some(error);
            *self.0.injected.lock().unwrap() += 1;
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(error) = self.0.armed.lock().unwrap().take() {
            let response = context.response_mut();
            *response.status_mut() = 400u16.try_into()?;
            response.headers_mut().remove("content-length");
            response
                .headers_mut()
                .insert("content-type", "application/x-amz-json-1.0");
            *response.body_mut() = error.into();
        }
        Ok(())
    }
}

/// A transaction cancelled because DynamoDB throttled it (not retried by
/// the SDK: a cancellation is a client error).
const THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [ThrottlingError, None]","CancellationReasons":[{"Code":"ThrottlingError","Message":"Throughput exceeds the current capacity of your table or index."},{"Code":"None"}]}"#;
/// An item over DynamoDB's 400 KB limit.
const TOO_LARGE: &str = r#"{"__type":"com.amazon.coral.validate#ValidationException","message":"Item size has exceeded the maximum allowed size"}"#;
/// The runner loses its connection after the claim: an error nobody retries.
const CRASH: &str =
    r#"{"__type":"com.amazonaws.dynamodb.v20120810#InjectedCrash","message":"connection lost"}"#;

/// A rig whose DynamoDB client answers through `injector`, its queue
/// delaying messages by at most `max_delay` real seconds.
async fn rig_with(name: &str, injector: &Arc<Injector>, max_delay: i64) -> AwsRig {
    let ports = rig_ports(name).await;
    let sdk = ports.config.sdk_config().await;
    let counter = RequestCounter::new();
    let mut clients = Clients::new(&sdk, &counter);
    clients.dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(counter.interceptor(Service::DynamoDb))
            .interceptor(Inject(injector.clone()))
            .build(),
    );
    let ports = AwsPorts::from_clients(ports.config, clients);
    AwsRig::with_ports(ports, at(MONDAY_1144_MSK), max_delay).await
}

/// The company, `robot` on the deals pipeline, and a new deal whose robots
/// are planned (the stage-change step ran).
async fn deal_with(rig: &AwsRig, robot: Value) -> Item {
    crm_core::testing::load(&rig.engine, &rig.tenant)
        .await
        .unwrap();
    rig.engine
        .create_robot(&rig.tenant, "deals", body(robot))
        .await
        .unwrap();
    let item = rig
        .engine
        .create_item(&rig.tenant, body(plain_deal("Website")))
        .await
        .unwrap();
    while rig.pump_stream().await == 0 {}
    item
}

async fn runs(rig: &AwsRig, item: &Item) -> Vec<RunRecord> {
    rig.engine
        .runs(&rig.tenant, &item.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.robot_id.is_some())
        .collect()
}

async fn comments(rig: &AwsRig, item: &Item) -> usize {
    rig.engine
        .timeline(&rig.tenant, &item.id)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.kind == "comment")
        .count()
}

fn comment_robot(delay_hours: Option<u32>) -> Value {
    let mut robot = json!({"stage_id": "new", "type": "add_timeline_comment",
        "settings": {"text": "hello {{title}}"}});
    if let Some(h) = delay_hours {
        robot["delay"] = json!({"mode": "after", "amount": h, "unit": "hours"});
    }
    robot
}

/// Pump the robot queue until it handed something to the runner (real SQS
/// delays: at most `wait`).
async fn pump_until_some(rig: &AwsRig, wait: StdDuration) -> usize {
    let start = Instant::now();
    loop {
        let n = rig.pump_jobs().await;
        if n > 0 || start.elapsed() > wait {
            return n;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_schedule_firing_59_s_early_is_put_back_for_the_rest_and_runs_once_on_time() {
    let injector = Arc::new(Injector::default());
    // Real SQS delays: the early job must really wait on the queue.
    let rig = rig_with("early", &injector, crm_aws::sqs::MAX_DELAY_SECONDS).await;
    let item = deal_with(&rig, comment_robot(Some(2))).await;
    let schedules = rig.ports.scheduler.list_all().await.unwrap();
    let [schedule] = schedules.as_slice() else {
        panic!("one schedule: {schedules:?}")
    };
    let due: DateTime<Utc> = schedule.job.due_at;
    assert!(
        schedule.fire_at + Duration::seconds(59) < due,
        "fires before due"
    );

    // EventBridge Scheduler fires 59 s before the due time.
    rig.clock.set(due - Duration::seconds(59));
    rig.fire(schedule).await;
    assert_eq!(rig.pump_jobs().await, 1, "the runner got the early job");
    let queue = rig.robot_queue();
    assert_eq!(runs(&rig, &item).await[0].status, RunStatus::Pending);
    assert_eq!(
        queue.delayed_count().await.unwrap(),
        1,
        "put back with a delay"
    );
    assert!(
        queue.receive::<Value>(10, 0).await.unwrap().is_empty(),
        "not receivable now: ~59 s to go"
    );

    // The schedule's input delivered again (a duplicate), 2 s before due:
    // put back for 2 s, then run on time, once.
    rig.clock.set(due - Duration::seconds(2));
    queue.send_raw(&schedule.input).await.unwrap();
    assert_eq!(rig.pump_jobs().await, 1);
    assert_eq!(comments(&rig, &item).await, 0, "never before due");
    let sent = Instant::now();
    rig.clock.set(due);
    assert_eq!(pump_until_some(&rig, StdDuration::from_secs(8)).await, 1);
    let waited = sent.elapsed();
    println!(
        "requeued for 2 s: received after {:.2} s (SQS delay + receive on LocalStack)",
        waited.as_secs_f64()
    );
    assert!(
        waited >= StdDuration::from_secs(2),
        "the queue held it {waited:?}"
    );
    let run = &runs(&rig, &item).await[0];
    assert_eq!((run.status, run.attempts), (RunStatus::Done, 1));
    assert!(run.finished_at.unwrap() >= due);
    // The job message once more: already final, no second effect.
    queue.send_raw(&schedule.input).await.unwrap();
    assert_eq!(rig.pump_jobs().await, 1);
    assert_eq!(comments(&rig, &item).await, 1);
    assert_eq!(
        queue.delayed_count().await.unwrap(),
        1,
        "the 59 s copy still waits; it will find the run final"
    );
    rig.teardown().await;
}

/// Runs are not claimed on AWS (issue #11): a runner that dies before its
/// commit has written nothing, and the redelivered message runs the run
/// from scratch, once.
#[tokio::test]
async fn a_runner_dying_before_its_commit_on_the_delayed_path_is_run_once_by_the_redelivery() {
    let injector = Arc::new(Injector::default());
    let rig = rig_with("claimdie", &injector, 0).await;
    let item = deal_with(&rig, comment_robot(Some(2))).await;
    let due = rig.ports.scheduler.list_all().await.unwrap()[0].job.due_at;

    // At due time the schedule fires; the runner's commit fails
    // (connection lost): the message comes back.
    injector.plan("TransactWriteItems", [Fault::Fail(CRASH)]);
    rig.clock.set(due);
    assert_eq!(rig.fire_due_schedules().await, 1);
    assert_eq!(rig.pump_jobs().await, 0, "the message failed");
    assert_eq!(injector.injected(), 1);
    let left = runs(&rig, &item).await[0].clone();
    assert_eq!(
        (left.status, left.attempts, left.claim_until),
        (RunStatus::Pending, 0, None),
        "the dead runner left nothing"
    );
    assert_eq!(comments(&rig, &item).await, 0);

    // The redelivery runs it, once.
    assert_eq!(rig.pump_jobs().await, 1);
    let all = runs(&rig, &item).await;
    assert_eq!(all.len(), 1, "one run record");
    assert_eq!((all[0].status, all[0].attempts), (RunStatus::Done, 1));
    assert_eq!(comments(&rig, &item).await, 1, "one effect");
    rig.advance(Duration::minutes(10)).await;
    assert_eq!(comments(&rig, &item).await, 1, "still one effect");
    assert_eq!(rig.pump_jobs().await, 0, "nothing left");
    rig.teardown().await;
}

#[tokio::test]
async fn a_throttled_transaction_is_retried_in_place_and_the_run_completes_once() {
    let injector = Arc::new(Injector::default());
    let rig = rig_with("throttle", &injector, 0).await;
    let item = deal_with(&rig, comment_robot(None)).await;
    injector.plan("TransactWriteItems", [Fault::Fail(THROTTLED); 3]);
    assert_eq!(rig.pump_jobs().await, 1, "done in one delivery");
    assert_eq!(injector.injected(), 3);
    let all = runs(&rig, &item).await;
    assert_eq!((all[0].status, all[0].attempts), (RunStatus::Done, 1));
    assert_eq!(comments(&rig, &item).await, 1);
    rig.teardown().await;
}

#[tokio::test]
async fn a_write_the_store_rejects_fails_the_run_at_once_with_its_reason() {
    let injector = Arc::new(Injector::default());
    let rig = rig_with("toolarge", &injector, 0).await;
    let item = deal_with(&rig, comment_robot(None)).await;
    // The commit is over DynamoDB's item size limit.
    injector.plan("TransactWriteItems", [Fault::Fail(TOO_LARGE)]);
    assert_eq!(rig.pump_jobs().await, 1, "acknowledged, not retried");
    assert_eq!(injector.left(), 0);
    let run = &runs(&rig, &item).await[0];
    assert_eq!(run.status, RunStatus::Failed);
    let reason = run.reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("rejected") && reason.contains("maximum allowed size"),
        "{reason}"
    );
    assert!(run.claim_until.is_none());
    assert_eq!(comments(&rig, &item).await, 0);
    assert_eq!(rig.pump_jobs().await, 0, "no redelivery");
    rig.teardown().await;
}

#[tokio::test]
async fn a_job_message_delivered_twice_in_one_batch_and_later_has_one_effect() {
    let injector = Arc::new(Injector::default());
    let rig = rig_with("dupjob", &injector, 0).await;
    let item = deal_with(&rig, comment_robot(None)).await;
    let queue = rig.robot_queue();
    let got = queue.receive::<Value>(10, 0).await.unwrap();
    assert_eq!(got.len(), 1);
    let body = got[0].body.to_string();
    queue.release(&got[0].receipt_handle).await.unwrap();
    queue.send_raw(&body).await.unwrap();
    rig.settle().await;
    queue.send_raw(&body).await.unwrap();
    rig.settle().await;
    let all = runs(&rig, &item).await;
    assert_eq!(
        (all.len(), all[0].status, all[0].attempts),
        (1, RunStatus::Done, 1)
    );
    assert_eq!(comments(&rig, &item).await, 1);
    rig.teardown().await;
}
