//! The AWS function set, driven in-process against LocalStack.
//!
//! Every storage, queue and schedule call goes to the emulator; the four
//! Lambda handlers are called with the events AWS would deliver:
//! - stage-change gets the table's real DynamoDB stream records (read with
//!   GetRecords, as the Lambda poller would, and converted to the Lambda
//!   event shape);
//! - trigger-eval and robot-runner get SQS batches received from the real queues
//!   (successful messages deleted, failed ones left for redelivery);
//! - due EventBridge schedules are read from the emulator (which stores but
//!   never fires them) and fired as the scheduler does: their input is sent
//!   to their target, the robot-actions queue, then they are deleted
//!   (ActionAfterCompletion DELETE); the queue is then drained through
//!   robot-runner. The rig fires a schedule once its job is due at the
//!   injected manual clock (the end of the window; early fires are the
//!   subject of `tests/aws_faults.rs`).
//! - queue delays: by default the rig's queue sends every message at once
//!   (a real `DelaySeconds` would be a real wait) and `pump_jobs` holds the
//!   jobs that are not due at the manual clock, as SQS would hold them;
//!   [`AwsRig::with_ports`] with a real maximum delay keeps real SQS delays.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodbstreams::types::{AttributeValue, ShardIteratorType};
use chrono::{DateTime, Utc};
use crm_aws::testing::isolated_ports;
use crm_aws::wiring::aws_engine_config;
use crm_aws::{AwsPorts, provision};
use crm_core::Engine;
use crm_core::memory::ManualClock;
use crm_core::ports::{Clock, DocStore, Ports, SYSTEM_TENANT};
use crm_core::system::{LogDelivery, TimeOrderedIds};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// The longest [`AwsRig::settle`] waits for the stream to show this rig's
/// pending outbox records.
const STREAM_LAG: std::time::Duration = std::time::Duration::from_secs(3);

/// Fresh, provisioned ports for a rig named `name` (see [`isolated_ports`]).
pub async fn rig_ports(name: &str) -> AwsPorts {
    isolated_ports(name).await.expect(
        "the AWS scenario tests need LocalStack on 127.0.0.1:4566 (run infra/localstack.sh start)",
    )
}

/// The engine and handlers on LocalStack, with a manual clock.
pub struct AwsRig {
    pub ports: AwsPorts,
    pub engine: Engine,
    pub clock: Arc<ManualClock>,
    /// A tenant unique to this rig (the table is shared between tests).
    pub tenant: String,
    /// Hold jobs not due at the manual clock (the queue sends at once).
    hold_undue: bool,
    streams: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    iterators: Mutex<HashMap<String, String>>,
}

/// One record of a DynamoDB stream as Lambda delivers it in a stream event.
pub fn stream_event_record(
    r: &aws_sdk_dynamodbstreams::types::Record,
    d: &aws_sdk_dynamodbstreams::types::StreamRecord,
    image: Value,
    region: &str,
    stream_arn: &str,
) -> Value {
    json!({
        "eventID": r.event_id(),
        "eventName": r.event_name().map(|n| n.as_str().to_string()),
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": {
            "ApproximateCreationDateTime": d.approximate_creation_date_time().map_or(0, |t| t.secs()),
            "Keys": d.keys().map(image_json).unwrap_or(json!({})),
            "NewImage": image,
            "SequenceNumber": d.sequence_number(),
            "SizeBytes": d.size_bytes().unwrap_or(0),
            "StreamViewType": "NEW_IMAGE"
        },
        "eventSourceARN": stream_arn,
    })
}

/// A stream image as DynamoDB JSON (what Lambda puts in the event).
pub fn image_json(m: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(m.iter().map(|(k, v)| (k.clone(), av_json(v))).collect())
}

/// A stream attribute value as DynamoDB JSON (what Lambda puts in the event).
fn av_json(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(_) => json!({"NULL": true}),
        AttributeValue::M(m) => json!({"M": image_json(m)}),
        AttributeValue::L(l) => json!({"L": l.iter().map(av_json).collect::<Vec<_>>()}),
        AttributeValue::Ss(v) => json!({"SS": v}),
        AttributeValue::Ns(v) => json!({"NS": v}),
        AttributeValue::B(b) => crm_aws::body_codec::binary_image(b),
        other => panic!("attribute type not used by the table: {other:?}"),
    }
}

impl AwsRig {
    /// Fresh queues and schedule group for this rig; the shared table; the
    /// stream read from its current end.
    pub async fn new(name: &str, start: DateTime<Utc>) -> AwsRig {
        AwsRig::with_ports(rig_ports(name).await, start, 0).await
    }

    /// A rig on `ports` (provisioned, e.g. by [`rig_ports`], maybe with
    /// clients of its own), its queue delaying messages by at most
    /// `max_delay` real seconds (0: delays are emulated at the manual clock).
    pub async fn with_ports(ports: AwsPorts, start: DateTime<Utc>, max_delay: i64) -> AwsRig {
        AwsRig::with_delivery(ports, start, max_delay, Arc::new(LogDelivery)).await
    }

    /// As [`AwsRig::with_ports`], handing outbound messages to `delivery`
    /// (SES/SNS of [`crm_aws::senders`]).
    pub async fn with_delivery(
        ports: AwsPorts,
        start: DateTime<Utc>,
        max_delay: i64,
        delivery: Arc<dyn crm_core::ports::Delivery>,
    ) -> AwsRig {
        let clock = Arc::new(ManualClock::new(start));
        let ports = AwsPorts::with_clock(
            ports.config.clone(),
            ports.clients.clone(),
            clock.clone(),
            max_delay,
        );
        let stream_arn = provision::ensure_table(&ports.clients.dynamodb, &ports.config.table)
            .await
            .unwrap()
            .expect("the table has a stream");
        let streams = aws_sdk_dynamodbstreams::Client::new(&ports.config.sdk_config().await);
        let engine = Engine::new(
            Ports {
                store: ports.store.clone(),
                jobs: ports.jobs.clone(),
                scheduler: ports.scheduler.clone(),
                events: ports.events.clone(),
                delivery,
                clock: clock.clone(),
                ids: Arc::new(TimeOrderedIds),
                blobs: ports.blobs.clone(),
                http: Arc::new(crm_aws::http_caller::ReqwestCaller::new()),
            },
            aws_engine_config(),
        );
        let rig = AwsRig {
            tenant: crm_aws::testing::unique_name("tenant"),
            hold_undue: max_delay == 0,
            ports,
            engine,
            clock,
            streams,
            stream_arn,
            iterators: Mutex::new(HashMap::new()),
        };
        rig.open_shards(ShardIteratorType::Latest).await;
        rig
    }

    async fn open_shards(&self, kind: ShardIteratorType) {
        let desc = self
            .streams
            .describe_stream()
            .stream_arn(&self.stream_arn)
            .send()
            .await
            .unwrap();
        let mut its = self.iterators.lock().await;
        for shard in desc
            .stream_description()
            .map(|d| d.shards())
            .unwrap_or_default()
        {
            let id = shard.shard_id().unwrap_or_default().to_string();
            if its.contains_key(&id) {
                continue;
            }
            let it = self
                .streams
                .get_shard_iterator()
                .stream_arn(&self.stream_arn)
                .shard_id(&id)
                .shard_iterator_type(kind.clone())
                .send()
                .await
                .unwrap();
            if let Some(it) = it.shard_iterator() {
                its.insert(id, it.to_string());
            }
        }
    }

    /// This rig's new outbox records from the stream, as Lambda stream events
    /// (one per shard read), handed to the stage-change handler. Returns how
    /// many records were processed.
    pub async fn pump_stream(&self) -> usize {
        self.open_shards(ShardIteratorType::TrimHorizon).await;
        let mut processed = 0;
        let shards: Vec<(String, String)> = self
            .iterators
            .lock()
            .await
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (shard, it) in shards {
            let out = self
                .streams
                .get_records()
                .shard_iterator(&it)
                .send()
                .await
                .unwrap();
            let prefix = format!("{}|", self.tenant);
            let records: Vec<Value> = out
                .records()
                .iter()
                .filter_map(|r| {
                    let d = r.dynamodb()?;
                    let image = d.new_image().map(image_json).unwrap_or(json!({}));
                    // Only this rig's outbox records: the table is shared by tests.
                    let mine = image["tenant"]["S"] == SYSTEM_TENANT
                        && image["id"]["S"]
                            .as_str()
                            .is_some_and(|i| i.starts_with(&prefix));
                    mine.then(|| {
                        stream_event_record(
                            r,
                            d,
                            image,
                            &self.ports.config.region,
                            &self.stream_arn,
                        )
                    })
                })
                .collect();
            if let Some(next) = out.next_shard_iterator() {
                self.iterators.lock().await.insert(shard, next.to_string());
            } else {
                self.iterators.lock().await.remove(&shard);
            }
            if records.is_empty() {
                continue;
            }
            let n = records.len();
            let event: aws_lambda_events::event::dynamodb::Event =
                serde_json::from_value(json!({ "Records": records })).unwrap();
            let resp = crm_fn_stage_change::handler(
                &self.engine,
                LambdaEvent::new(event, Context::default()),
            )
            .await
            .unwrap();
            assert!(
                resp.batch_item_failures.is_empty(),
                "stage-change failures: {resp:?}"
            );
            processed += n;
        }
        processed
    }

    fn sqs_event(&self, queue_arn: &str, msgs: &[(String, String)]) -> Value {
        json!({"Records": msgs.iter().map(|(id, body)| json!({
            "messageId": id, "receiptHandle": id, "body": body,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1763887440000"},
            "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn, "awsRegion": self.ports.config.region,
        })).collect::<Vec<_>>()})
    }

    /// One SQS receive (up to 10) from the events queue → trigger-eval.
    pub async fn pump_events(&self) -> usize {
        let q = self.ports.events.queue();
        let got = q.receive::<Value>(10, 0).await.unwrap();
        if got.is_empty() {
            return 0;
        }
        let msgs: Vec<(String, String)> = got
            .iter()
            .map(|m| (m.message_id.clone(), m.body.to_string()))
            .collect();
        let event = serde_json::from_value(
            self.sqs_event("arn:aws:sqs:us-east-1:000000000000:events", &msgs),
        )
        .unwrap();
        let resp =
            crm_fn_trigger_eval::handler(&self.engine, LambdaEvent::new(event, Context::default()))
                .await
                .unwrap();
        assert!(
            resp.batch_item_failures.is_empty(),
            "trigger-eval failures: {resp:?}"
        );
        q.ack(
            &got.iter()
                .map(|m| m.receipt_handle.clone())
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();
        got.len()
    }

    /// Received robot-action messages → robot-runner as one SQS batch.
    /// Successful messages are deleted; failed ones are made visible again.
    /// Jobs not due at the manual clock are held (made visible again, not
    /// handed over), as SQS holds a message sent with `DelaySeconds`.
    pub async fn pump_jobs(&self) -> usize {
        let q = self.ports.jobs.queue();
        let mut got = q.receive::<Value>(10, 0).await.unwrap();
        let now = self.clock.now();
        let held: Vec<_> = got
            .extract_if(.., |m| {
                self.hold_undue
                    && serde_json::from_value::<crm_core::ports::Job>(m.body.clone())
                        .is_ok_and(|j| j.due_at > now)
            })
            .collect();
        for m in &held {
            q.release(&m.receipt_handle).await.unwrap();
        }
        if got.is_empty() {
            return 0;
        }
        let msgs: Vec<(String, String)> = got
            .iter()
            .map(|m| (m.message_id.clone(), m.body.to_string()))
            .collect();
        let payload = self.sqs_event("arn:aws:sqs:us-east-1:000000000000:robot-actions", &msgs);
        let resp = crm_fn_robot_runner::handler(
            &self.engine,
            LambdaEvent::new(payload, Context::default()),
        )
        .await
        .unwrap();
        let failed: Vec<String> = resp
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        let ok: Vec<String> = got
            .iter()
            .filter(|m| !failed.contains(&m.message_id))
            .map(|m| m.receipt_handle.clone())
            .collect();
        q.ack(&ok).await.unwrap();
        for m in got.iter().filter(|m| failed.contains(&m.message_id)) {
            q.release(&m.receipt_handle).await.unwrap();
        }
        ok.len()
    }

    /// Fire every schedule whose job is due: send its input to its target
    /// (the robot-actions queue), as EventBridge Scheduler does, then delete
    /// it (ActionAfterCompletion DELETE). The queue is drained by `settle`.
    pub async fn fire_due_schedules(&self) -> usize {
        let now = self.clock.now();
        let due: Vec<_> = self
            .ports
            .scheduler
            .list_all()
            .await
            .unwrap()
            .into_iter()
            .filter(|s| s.job.due_at <= now)
            .collect();
        for s in &due {
            self.fire(s).await;
        }
        due.len()
    }

    /// Fire one schedule now (whatever the clock says): its input goes to
    /// its target queue as the message body; the schedule is deleted.
    pub async fn fire(&self, s: &crm_aws::ScheduledJob) {
        assert_eq!(
            s.target_arn, self.ports.config.robot_queue_arn,
            "schedules target the robot-actions queue"
        );
        self.ports.jobs.queue().send_raw(&s.input).await.unwrap();
        self.ports.scheduler.delete(&s.name).await.unwrap();
    }

    /// The earliest due time of the jobs waiting on the robot queue (held
    /// because they are not due yet), if any.
    async fn next_queued_due(&self) -> Option<DateTime<Utc>> {
        let q = self.ports.jobs.queue();
        let mut all = Vec::new();
        loop {
            let got = q.receive::<Value>(10, 0).await.unwrap();
            if got.is_empty() {
                break;
            }
            all.extend(got);
        }
        for m in &all {
            q.release(&m.receipt_handle).await.unwrap();
        }
        all.iter()
            .filter_map(|m| serde_json::from_value::<crm_core::ports::Job>(m.body.clone()).ok())
            .map(|j| j.due_at)
            .min()
    }

    /// Run everything queued and due now until nothing is left.
    ///
    /// A DynamoDB stream shows a record some time after its write (under
    /// load, LocalStack's stream lags by up to a second or more): while this
    /// rig's outbox records are still pending and the stream has shown
    /// nothing, it waits for them, up to [`STREAM_LAG`] per call, so a test
    /// does not read the state before the stage change was processed. (A
    /// fault test that leaves a record pending on purpose costs that wait.)
    pub async fn settle(&self) {
        let mut waited = std::time::Duration::ZERO;
        for _ in 0..400 {
            let n = self.pump_stream().await
                + self.pump_events().await
                + self.pump_jobs().await
                + self.fire_due_schedules().await;
            if n > 0 {
                continue;
            }
            if waited >= STREAM_LAG || !self.outbox_pending().await {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            waited += std::time::Duration::from_millis(100);
        }
        panic!("the function set did not settle");
    }

    /// Does this rig's tenant have outbox records the stream has not
    /// handed over yet?
    async fn outbox_pending(&self) -> bool {
        let prefix = format!("{}|", self.tenant);
        self.ports
            .store
            .list(
                SYSTEM_TENANT,
                crm_core::ports::Kind::Outbox,
                crm_core::engine::OUTBOX_PENDING,
            )
            .await
            .unwrap()
            .iter()
            .any(|d| d.key.id.starts_with(&prefix))
    }

    /// Move the clock forward, firing each schedule at its own due time.
    pub async fn advance(&self, d: chrono::Duration) {
        let target = self.clock.now() + d;
        self.settle().await;
        loop {
            let scheduled = self
                .ports
                .scheduler
                .list_all()
                .await
                .unwrap()
                .into_iter()
                .map(|s| s.job.due_at);
            let next = scheduled
                .chain(self.next_queued_due().await)
                .filter(|t| *t <= target && *t > self.clock.now())
                .min();
            let Some(due) = next else { break };
            self.clock.set(due);
            self.settle().await;
        }
        self.clock.set(target);
        self.settle().await;
    }

    /// Names of this rig's schedules that still exist.
    pub async fn schedules(&self) -> Vec<String> {
        self.ports
            .scheduler
            .list_all()
            .await
            .unwrap()
            .into_iter()
            .filter(|s| s.job.tenant == self.tenant)
            .map(|s| s.name)
            .collect()
    }

    /// The robot-actions queue (receive, delayed count, raw sends).
    pub fn robot_queue(&self) -> &crm_aws::SqsQueue {
        self.ports.jobs.queue()
    }

    pub async fn teardown(&self) {
        crm_aws::testing::teardown(&self.ports).await.unwrap();
    }
}
