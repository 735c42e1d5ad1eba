//! The AWS cost of the four scenarios of issue #11, measured on LocalStack
//! from the requests the SDK sends (`crm_aws::billing`): every DynamoDB,
//! SQS and Scheduler request of a scenario billed by AWS's rules from the
//! actual items, plus Lambda invocations timed in-process at the template's
//! memory sizes (LocalStack round trips make these durations an upper
//! bound). `infra/cost-report.sh` runs `cost_report` and prints its lines.
//!
//! What each scenario counts (the window):
//! - `immediate-robot-run`: one queued robot job, from the poller's receive
//!   through the runner invocation to the message's delete;
//! - `delayed-robot-run`: the schedule firing (one Scheduler invocation and
//!   its SQS send), the early delivery put back on the queue for the rest
//!   of the time, and the on-time delivery that runs it;
//! - `stage-change-5-robots`: the API write that moves an item, the stream
//!   invocation that plans five immediate robots, and their five runs (one
//!   message, one runner invocation: a visit job);
//! - `event-moves-item`: `POST /v1/events`, the trigger evaluation that
//!   moves the item, and the stream invocation of the move.
//!
//! API Gateway requests ($1 per million HTTP API requests) are outside the
//! issue's sum (DynamoDB + SQS + Lambda + Scheduler) and not counted.

use std::time::Instant;

use chrono::Duration;
use crm_aws::billing::{API_MEMORY_MB, FUNCTION_MEMORY_MB, Meter, PRICES, Usage};
use crm_core::model::RunStatus;
use crm_core::testing::{MONDAY_1144_MSK, at, body};
use crm_tests::aws_rig::AwsRig;
use serde_json::{Value, json};

async fn rig(name: &str) -> (AwsRig, Meter) {
    let ports = crm_aws::testing::metered_ports(name).await.expect(
        "the cost report needs LocalStack on 127.0.0.1:4566 (run infra/localstack.sh start)",
    );
    let meter = ports.requests.meter().expect("metering clients").clone();
    let rig = AwsRig::with_ports(ports, at(MONDAY_1144_MSK), 0).await;
    crm_core::testing::load(&rig.engine, &rig.tenant)
        .await
        .unwrap();
    (rig, meter)
}

fn comment_robot(stage: &str, delay_hours: Option<u32>) -> Value {
    let mut r = json!({"stage_id": stage, "type": "add_timeline_comment",
        "settings": {"text": "Call the client"}});
    if let Some(h) = delay_hours {
        r["delay"] = json!({"mode": "after", "amount": h, "unit": "hours"});
    }
    r
}

/// A rig with `robots` on `deals` and a deal in `new`, settled.
async fn deal_with_robots(name: &str, robots: &[Value]) -> (AwsRig, Meter, String) {
    let (rig, meter) = rig(name).await;
    for r in robots {
        rig.engine
            .create_robot(&rig.tenant, "deals", body(r.clone()))
            .await
            .unwrap();
    }
    let item = rig
        .engine
        .create_item(
            &rig.tenant,
            body(
                json!({"pipeline_id": "deals", "stage_id": "new", "title": "Website",
                "amount": 15000, "currency": "RUB", "responsible_id": "u-anna"}),
            ),
        )
        .await
        .unwrap();
    rig.settle().await;
    (rig, meter, item.id)
}

/// Time one invocation of a function (`memory_mb`) into the meter.
async fn invoke<T>(meter: &Meter, memory_mb: u32, f: impl std::future::Future<Output = T>) -> T {
    let t = Instant::now();
    let out = f.await;
    meter.record_lambda(memory_mb, t.elapsed());
    out
}

/// Hand the stream to stage-change until it processed something (one
/// invocation; empty polls are the stream poller's and free).
async fn stream_invocation(rig: &AwsRig, meter: &Meter) {
    loop {
        let t = Instant::now();
        if rig.pump_stream().await > 0 {
            meter.record_lambda(FUNCTION_MEMORY_MB, t.elapsed());
            return;
        }
    }
}

/// Hand queued robot jobs to the runner until `n` were processed.
async fn runner_invocations(rig: &AwsRig, meter: &Meter, n: usize) {
    let mut done = 0;
    while done < n {
        let t = Instant::now();
        let got = rig.pump_jobs().await;
        if got > 0 {
            meter.record_lambda(FUNCTION_MEMORY_MB, t.elapsed());
        }
        done += got;
    }
}

async fn patch_stage(rig: &AwsRig, id: &str, stage: &str) {
    rig.engine
        .patch_item(&rig.tenant, id, body(json!({"stage_id": stage})), None)
        .await
        .unwrap();
}

async fn immediate_robot_run() -> Usage {
    let (rig, meter, id) = deal_with_robots("cost-now", &[comment_robot("prep", None)]).await;
    patch_stage(&rig, &id, "prep").await;
    stream_invocation(&rig, &meter).await;
    let before = meter.usage();
    runner_invocations(&rig, &meter, 1).await;
    let used = meter.usage().since(&before);
    let runs = rig.engine.runs(&rig.tenant, &id).await.unwrap();
    assert!(runs.iter().any(|r| r.status == RunStatus::Done), "{runs:?}");
    rig.teardown().await;
    used
}

/// As `immediate-robot-run`, with a `create_task` robot: the run writes the
/// task, its list entry under the responsible (`GET /v1/tasks?
/// responsible_id=`) and its timeline entry.
async fn immediate_create_task() -> Usage {
    let robot = json!({"stage_id": "prep", "type": "create_task",
        "settings": {"title": "Design for {{title}}"}});
    let (rig, meter, id) = deal_with_robots("cost-task", &[robot]).await;
    patch_stage(&rig, &id, "prep").await;
    stream_invocation(&rig, &meter).await;
    let before = meter.usage();
    runner_invocations(&rig, &meter, 1).await;
    let used = meter.usage().since(&before);
    let page = rig
        .engine
        .user_tasks_page(&rig.tenant, "u-anna", &Default::default())
        .await
        .unwrap();
    assert_eq!(
        page.items.len(),
        1,
        "the task is listed under its responsible"
    );
    rig.teardown().await;
    used
}

async fn delayed_robot_run() -> Usage {
    let (rig, meter, id) = deal_with_robots("cost-later", &[comment_robot("prep", Some(1))]).await;
    patch_stage(&rig, &id, "prep").await;
    stream_invocation(&rig, &meter).await;
    let s = rig.ports.scheduler.list_all().await.unwrap().pop().unwrap();
    let before = meter.usage();
    // The schedule fires in the minute before the due time.
    rig.clock.set(s.fire_at + Duration::seconds(30));
    meter.record_schedule_invocation();
    rig.fire(&s).await;
    let q = rig.robot_queue();
    let mut outcomes = Vec::new();
    for at_time in [None, Some(s.job.due_at)] {
        if let Some(t) = at_time {
            rig.clock.set(t);
        }
        let m = q
            .receive::<crm_core::ports::Job>(1, 0)
            .await
            .unwrap()
            .pop()
            .unwrap();
        let report = invoke(
            &meter,
            FUNCTION_MEMORY_MB,
            crm_fn_robot_runner::run(&rig.engine, m.body),
        )
        .await
        .unwrap();
        outcomes.push(report.outcome);
        q.ack(&[m.receipt_handle]).await.unwrap();
    }
    let mut used = meter.usage().since(&before);
    // AWS deletes a fired schedule itself (ActionAfterCompletion DELETE).
    used.scheduler_api_requests = 0;
    assert_eq!(outcomes, ["rescheduled", "finished"]);
    rig.teardown().await;
    used
}

async fn stage_change_5_robots() -> Usage {
    let robots: Vec<Value> = (0..5).map(|_| comment_robot("prep", None)).collect();
    let (rig, meter, id) = deal_with_robots("cost-stage", &robots).await;
    let before = meter.usage();
    invoke(&meter, API_MEMORY_MB, patch_stage(&rig, &id, "prep")).await;
    stream_invocation(&rig, &meter).await;
    // One message carries the visit's five runs (issue #11, visit jobs).
    runner_invocations(&rig, &meter, 1).await;
    let used = meter.usage().since(&before);
    let runs = rig.engine.runs(&rig.tenant, &id).await.unwrap();
    assert_eq!(
        runs.iter().filter(|r| r.status == RunStatus::Done).count(),
        5,
        "{runs:?}"
    );
    rig.teardown().await;
    used
}

async fn event_moves_item() -> Usage {
    let (rig, meter, id) = deal_with_robots("cost-event", &[]).await;
    rig.engine
        .create_trigger(
            &rig.tenant,
            "deals",
            body(json!({"stage_id": "won", "type": "invoice_paid", "name": "Paid"})),
        )
        .await
        .unwrap();
    rig.settle().await;
    let before = meter.usage();
    invoke(
        &meter,
        API_MEMORY_MB,
        rig.engine.submit_event(
            &rig.tenant,
            body(json!({"type": "invoice_paid", "item_id": id, "idempotency_key": "inv-77"})),
        ),
    )
    .await
    .unwrap();
    let t = Instant::now();
    assert_eq!(rig.pump_events().await, 1);
    meter.record_lambda(FUNCTION_MEMORY_MB, t.elapsed());
    stream_invocation(&rig, &meter).await;
    let used = meter.usage().since(&before);
    let item = rig.engine.get_item(&rig.tenant, &id).await.unwrap();
    assert_eq!(item.stage_id, "won");
    rig.teardown().await;
    used
}

/// The figures this code reaches today, USD per million, counting request
/// units only (DynamoDB, SQS, Scheduler, Lambda requests: deterministic;
/// Lambda time measured at LocalStack varies with the machine's load, so it
/// is printed, not ratcheted). A change that raises one fails here; lower
/// them when a change lowers a figure.
///
/// The issue's goals are not met yet (all-in: ≤ $4 immediate, ≤ $5
/// delayed, ≤ $25 stage change with 5 robots): request units alone are
/// 2.3×, 2.5× and 2.8× the goal. The event scenario has no goal.
///
/// Raised once on purpose: listing a pipeline's items by stage (`GET
/// /v1/items`, the board's kanban) keeps a small list entry per item, written
/// with the item — 2 WRU more per item write (stage change 138.80 → 140.05,
/// event 13.67 → 14.92).
///
/// Raised a second time on purpose (issue #13, reports): the report counts
/// are written in the same transaction as what they count. A run's final
/// commit carries its robot's day document (+2 WRU, and +1 RRU to read it):
/// immediate 19.25 → 20.62, delayed 22.42 → 23.80. A stage change's
/// outbox record is deleted conditionally, in one transaction with the
/// stage, responsible and entered-stage documents (+8 WRU, +3 RRU): event
/// 14.92 → 20.30; stage change with 5 robots 140.05 → 152.30 (+5 runs, +the
/// visit). That scenario measures 156.30 in about 2 runs of 5 (one more
/// commit attempt: +6 WRU, +2 RRU, a `GetItem`): the limit allows it.
///
/// `immediate-create-task` (issue #12, tasks per responsible user): a
/// `create_task` run also writes the task's list entry under its
/// responsible, in the run's commit: 34 → 38 WRU (the entry is a listed
/// document: its item and its list item, 2 WRU each in a transaction),
/// request units 23.12 → 25.62 USD per million. `plan_activity` likewise.
///
/// Lowered (issue #11, step 1): no claim write on AWS (`claim_runs` off;
/// the version-guarded commit alone keeps the effect single). A run loses
/// its claim transaction (the run record, ~1.15 KB → 2 KB, and its list
/// entry, ×2): −8 WRU. Immediate 20.62 → 15.62, delayed 23.80 → 18.80,
/// stage change 152.30 → 127.30 (131.30 with the occasional extra commit
/// attempt, as above), create_task 25.62 → 20.62; the event is unchanged.
///
/// Lowered (issue #11, step 2): a body of 256 bytes or more is stored
/// DEFLATE-compressed (`crm_aws::body_codec`), so a run record (~1.15 KB
/// with its robot's settings snapshot) and its list entry bill 1 KB each
/// instead of 2: −4 WRU per run. Immediate 15.62 → 13.12, delayed 18.80 →
/// 16.30, stage change 127.30 → 102.30 (106.30 with the extra commit
/// attempt), create_task 20.62 → 18.12; the event is unchanged (its
/// records were under 1 KB already).
///
/// Lowered (issue #11, step 3): a list-only kind ([`Kind::list_only`]: the
/// pending-run index, only ever listed by robot) is stored once, as its
/// list entry: its put at planning and its delete in the run's commit are
/// one item write each instead of two, −2 WRU per run. Immediate 13.12 →
/// 11.88, delayed 16.30 → 15.05, stage change 102.30 → 89.80 (93.80 with
/// the extra commit attempt), create_task 18.12 → 16.88; the event is
/// unchanged.
///
/// Lowered (issue #11, step 4): each document stored once where its parent
/// is known without a read. A run record, whose id names its item
/// ([`Kind::parent_of_id`]), is stored as its list entry alone and read by
/// key from there: −2 WRU per run write (planning and commit). Timeline
/// entries and the per-user task/activity entries join the list-only kinds:
/// −2 WRU per entry. Immediate 11.88 → 9.38, delayed 15.05 → 12.55, stage
/// change 89.80 → 69.80 (73.80 allowed for the occasional extra commit
/// attempt, as above), create_task 16.88 → 13.12; the event 20.30 → 17.93
/// (−4 WRU, +1 RRU: the trigger evaluation's run record is looked up before
/// it exists, and a missing entry is looked up again as a record written
/// before the change).
///
/// Lowered (issue #11, step 5): a run due at once (an immediate robot) has
/// no entry in its robot's pending-run index (`store::indexed`): no put at
/// planning, no delete at the commit, −2 WRU per run and −2 WRU per robot
/// planned. Immediate 9.38 → 8.12, stage change 69.80 → 57.30 (61.30 with
/// the extra commit attempt), create_task 13.12 → 11.88; delayed and event
/// unchanged.
///
/// Lowered (issue #11, step 6): a job delivered before its own due time (a
/// delayed robot's schedule fires up to 2 minutes early by design) is put
/// back without reading the run, the item and its counter first: −3 RRU per
/// delayed run. Delayed 12.55 → 12.18.
///
/// Lowered (issue #11, step 7): the timeline counter guards the visit
/// (`store::counter_guards_visit`): every write that starts a visit or
/// deletes the item moves the counter to the visit's epoch, so a run whose
/// commit writes the counter (it added an entry) needs no check of the
/// item's version: −2 WRU per such run, +2 WRU per visit change. Immediate
/// 8.12 → 6.88, delayed 12.18 → 10.93, stage change 57.30 → 52.30 (56.30
/// with the extra commit attempt), create_task 11.88 → 10.62; the event, a
/// move with no robot run, 17.93 → 19.18 (a rise, on purpose).
///
/// Lowered (issue #11, step 8): a trigger evaluation writes its record on
/// the condition that it is absent and looks it up only after a lost
/// commit, not before the first attempt (which found nothing, and looked
/// again for a record of the old layout): −2 RRU. Event 19.18 → 18.93.
///
/// Lowered (issue #11, step 9): on a store that bills transactions double
/// (`DocStore::prefers_single_writes`), a visit's planned runs are written
/// one by one, so an immediate run's record alone is a conditional
/// `PutItem`: −1 WRU per immediate robot planned. Stage change 52.30 →
/// 49.18 (53.18 with the extra commit attempt).
///
/// Lowered (issue #11, step 10, visit jobs): a stage change's immediate
/// runs are one job (`Job::then`), run in robot order and committed in one
/// transaction: one message; the runs, item and counter in one batch, the
/// pipeline, responsible and robots in one more (3 `BatchGetItem`s instead
/// of 10); the timeline counter written once instead of 5 times (each robot
/// keeps its own report document). −8 WRU, −16 RRU: stage change 49.18 →
/// 42.18 (59 WRU, 28 RRU; 46.18 with the extra commit attempt, as above);
/// the other scenarios have one run and are unchanged.
///
/// Lowered (issue #11, step 11): a robot run counts on ONE report document
/// per (pipeline, robot's stage, UTC day, shard), each robot's counts under
/// its id, instead of one document per robot: the 5 robots of the stage
/// change's visit job read and write 1 report document instead of 5 (each
/// 1 RRU to read, 2 WRU in the transaction). −8 WRU, −4 RRU: stage change
/// 42.18 → 36.68 (51 WRU, 24 RRU; 40.68 with the extra commit attempt, as
/// above); the other scenarios have one run and are unchanged.
///
/// Lowered (issue #11, step 12): what a run reads but never writes — the
/// pipeline, the responsible and the robots — is read eventually consistent
/// (`DocStore::get_many_settled`: half the read units; a document found
/// absent is read again consistently, so a robot created a moment ago is
/// never taken for deleted): −1.5 RRU per run, −3.5 RRU per visit job.
/// Immediate 6.88 → 6.69, delayed 10.93 → 10.74, stage change 36.68 →
/// 36.24 (40.24 with the extra commit attempt), create_task 10.62 → 10.44.
///
/// Lowered (issue #11, step 13): ending a visit reads the visit's runs by
/// their ids' prefix (`DocStore::list_prefix`) and finds the activities it
/// completes from their outputs, instead of listing the item's whole run
/// log and all its activities: one `Query` less, −1 RRU per visit ended.
/// Stage change 36.24 → 36.11 (40.11 with the extra commit attempt), event
/// 18.93 → 18.80.
///
/// [`Kind::list_only`]: crm_core::ports::Kind::list_only
/// [`Kind::parent_of_id`]: crm_core::ports::Kind::parent_of_id
const RATCHET: [(&str, f64); 5] = [
    ("immediate-robot-run", 6.69),
    ("delayed-robot-run", 10.74),
    ("stage-change-5-robots", 40.11),
    ("event-moves-item", 18.80),
    ("immediate-create-task", 10.44),
];

/// One line per scenario, `cost <scenario> <usd> USD per million`, then the
/// billed units behind it (read by `infra/cost-report.sh`).
#[tokio::test]
async fn cost_report() {
    let measured = [
        ("immediate-robot-run", immediate_robot_run().await),
        ("delayed-robot-run", delayed_robot_run().await),
        ("stage-change-5-robots", stage_change_5_robots().await),
        ("event-moves-item", event_moves_item().await),
        ("immediate-create-task", immediate_create_task().await),
    ];
    for (name, used) in &measured {
        println!(
            "cost {name} {:.2} USD per million",
            used.usd_per_million(&PRICES)
        );
        println!("  units {name}: {used}");
        println!(
            "  units {name}: request units alone {:.2} USD per million",
            used.without_lambda_time().usd_per_million(&PRICES)
        );
    }
    for ((name, used), (rname, limit)) in measured.iter().zip(RATCHET) {
        assert_eq!(*name, rname);
        let units_only = used.without_lambda_time().usd_per_million(&PRICES);
        assert!(
            units_only <= limit + 0.005,
            "{name}: {units_only:.2} USD per million (request units) > {limit}"
        );
    }
}

/// The metered units agree with what the DynamoDB backend reports as
/// consumed capacity for the non-transactional requests it reports on
/// (except the minimum unit AWS bills for a read that finds nothing, which
/// DynamoDB Local reports as 0: see `DynamoCall::empty_reads`).
#[tokio::test]
async fn metered_units_match_the_backends_consumed_capacity() {
    let (rig, meter, id) = deal_with_robots("cost-check", &[comment_robot("prep", None)]).await;
    patch_stage(&rig, &id, "prep").await;
    rig.settle().await;
    let mut checked = 0;
    let mut differ = Vec::new();
    for c in meter.calls() {
        if c.transactional {
            continue;
        }
        let Some(reported) = c.reported else { continue };
        checked += 1;
        if (c.comparable() - reported).abs() > 1e-9 {
            differ.push(c);
        }
    }
    println!("checked {checked} calls; differ: {differ:#?}");
    assert!(checked > 10, "the backend reported on {checked} calls");
    assert!(differ.is_empty(), "{differ:#?}");
    rig.teardown().await;
}

/// The memory sizes billed are the template's.
#[test]
fn billed_memory_is_the_templates() {
    let template = include_str!("../../../infra/template.yaml");
    let sizes: Vec<u32> = template
        .lines()
        .filter_map(|l| l.trim().strip_prefix("MemorySize:"))
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    assert_eq!(sizes, [FUNCTION_MEMORY_MB, API_MEMORY_MB], "{sizes:?}");
}

/// Loses the response of the next `PutItem` after DynamoDB applied it (the
/// answer becomes a 500), as a dropped connection would.
#[derive(Debug, Clone, Default)]
struct LoseNextPutResponse(
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    std::sync::Arc<std::sync::atomic::AtomicBool>,
);

impl aws_sdk_dynamodb::config::Intercept for LoseNextPutResponse {
    fn name(&self) -> &'static str {
        "LoseNextPutResponse"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let target = context.request().headers().get("x-amz-target");
        if target.is_some_and(|t| t.ends_with(".PutItem"))
            && self.0.swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            self.1.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut aws_sdk_dynamodb::config::interceptors::BeforeDeserializationInterceptorContextMut<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let response = context.response_mut();
        if response.status().is_success() && self.1.swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            *response.status_mut() = 500u16.try_into()?;
            response.headers_mut().remove("content-length");
            *response.body_mut() =
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"lost"}"#
                    .into();
        }
        Ok(())
    }
}

/// A single conditional write is a `PutItem` (half the units of a
/// transaction) without losing what the transaction's idempotency token
/// gave: a retry after a lost response is done, not a conflict, while a
/// second, separate write of the same record still conflicts.
#[tokio::test]
async fn a_single_conditional_put_survives_a_lost_response() {
    use crm_core::ports::{Cond, Doc, DocKey, DocStore, Kind, StoreError, Write};
    let ports = crm_aws::testing::metered_ports("cost-put").await.unwrap();
    let sdk = ports.config.sdk_config().await;
    let lose = LoseNextPutResponse::default();
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(ports.requests.interceptor(crm_aws::Service::DynamoDb))
            .interceptor(lose.clone())
            .build(),
    );
    let store = crm_aws::DynamoStore::new(client, ports.config.table.clone());
    let tenant = crm_aws::testing::unique_name("t");
    let doc = Doc {
        key: DocKey::new(&tenant, Kind::Item, "i-1"),
        version: 1,
        parent: None,
        expires_at: None,
        body: json!({"title": "Website"}),
    };
    let put = || {
        vec![Write::Put {
            doc: doc.clone(),
            cond: Cond::Absent,
        }]
    };
    lose.0.store(true, std::sync::atomic::Ordering::SeqCst);
    store.transact(put()).await.unwrap();
    assert!(
        !lose.0.load(std::sync::atomic::Ordering::SeqCst),
        "no response was lost"
    );
    assert_eq!(store.get(&doc.key).await.unwrap(), Some(doc.clone()));
    assert!(matches!(
        store.transact(put()).await,
        Err(StoreError::Conflict { .. })
    ));
    let ops = ports.requests.meter().unwrap().usage().dynamodb_ops;
    assert_eq!(ops.get("TransactWriteItems"), None, "{ops:?}");
    crm_aws::testing::teardown(&ports).await.unwrap();
}
