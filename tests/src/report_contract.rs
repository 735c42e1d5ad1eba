//! The reports' contract (issue #13): the aggregates a store keeps through
//! the engine give the hand-computed figures of a known history, and count
//! exactly once under repeats, lost responses and concurrency — on every
//! store adapter (memory, SQLite, DynamoDB on LocalStack).
//!
//! Each check builds an engine over the store under test with in-memory
//! queues and a manual clock ([`Rig`]), in its own tenant, and drives it by
//! hand: it processes only its own tenant's outbox records, so it can run
//! against a shared table.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use crm_core::api::{ItemPatch, NewItem, PipelineBody, RobotBody, UserBody};
use crm_core::hooked_store::{HookedStore, TransactHook};
use crm_core::memory::{ManualClock, MemDelivery, MemEvents, MemJobs, SeqIds};
use crm_core::model::{Item, RunStatus};
use crm_core::ports::{Clock, Doc, DocStore, Kind, Ports, StoreError, Write};
use crm_core::reports::{ConversionReport, RobotReport, StageTimeReport};
use crm_core::{Engine, EngineConfig, RunOutcome};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The pipeline of the checks.
pub const PIPELINE: &str = "deals";

fn body<B: DeserializeOwned>(v: Value) -> B {
    serde_json::from_value(v).expect("a valid request body")
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("an RFC 3339 time")
        .with_timezone(&Utc)
}

/// The engine over one store, with in-memory queues and a manual clock.
pub struct Rig {
    pub engine: Engine,
    pub jobs: Arc<MemJobs>,
    pub events: Arc<MemEvents>,
    pub clock: Arc<ManualClock>,
    pub tenant: String,
    /// The outbound HTTP calls made (answered from its script).
    pub http: Arc<crm_core::memory_http::MemHttp>,
}

impl Rig {
    /// An engine over `store` in `tenant`, its clock at `start`, with two
    /// users (`u-anna`, `u-dan`, UTC) and the pipeline `deals`: New orders →
    /// Project preparation → Client presentation → Won (success) / Lost
    /// (failure).
    pub async fn new(store: Arc<dyn DocStore>, tenant: &str, start: &str) -> Rig {
        let jobs = Arc::new(MemJobs::new());
        let events = Arc::new(MemEvents::new());
        let clock = Arc::new(ManualClock::new(t(start)));
        let http = Arc::new(crm_core::memory_http::MemHttp::new());
        let ports = Ports {
            store,
            jobs: jobs.clone(),
            scheduler: jobs.clone(),
            events: events.clone(),
            delivery: Arc::new(MemDelivery::new()),
            clock: clock.clone(),
            ids: Arc::new(SeqIds::new()),
            blobs: Arc::new(crm_core::memory_blobs::MemoryBlobs::new()),
            http: http.clone(),
        };
        let rig = Rig {
            http,
            engine: Engine::new(ports, EngineConfig::default()),
            jobs,
            events,
            clock,
            tenant: tenant.to_string(),
        };
        for (id, name) in [("u-anna", "Anna Sales"), ("u-dan", "Dan Designer")] {
            rig.engine
                .put_user(
                    tenant,
                    id,
                    body::<UserBody>(json!({"name": name, "time_zone": "UTC"})),
                )
                .await
                .expect("user");
        }
        let stages = json!([
            {"id": "new", "name": "New orders", "semantic": "process"},
            {"id": "prep", "name": "Project preparation", "semantic": "process"},
            {"id": "presentation", "name": "Client presentation", "semantic": "process"},
            {"id": "won", "name": "Won", "semantic": "success"},
            {"id": "lost", "name": "Lost", "semantic": "failure"}]);
        rig.engine
            .put_pipeline(
                tenant,
                PIPELINE,
                body::<PipelineBody>(
                    json!({"entity_type": "deal", "name": "Sales", "stages": stages}),
                ),
            )
            .await
            .expect("pipeline");
        rig
    }

    /// This tenant's pending outbox records.
    pub async fn outbox(&self) -> Vec<Doc> {
        self.engine
            .pending_outbox()
            .await
            .expect("outbox")
            .into_iter()
            .filter(|d| Engine::outbox_tenant(d) == self.tenant)
            .collect()
    }

    /// Process every pending record, event and due job of the tenant.
    pub async fn settle(&self) {
        loop {
            let mut progressed = false;
            for d in self.outbox().await {
                self.engine.process_outbox(d).await.expect("outbox record");
                progressed = true;
            }
            while let Some(e) = self.events.pop() {
                self.engine.handle_event(e).await.expect("event");
                progressed = true;
            }
            while let Some(j) = self.jobs.pop_due(self.clock.now()) {
                self.engine.run_job(j).await.expect("job");
                progressed = true;
            }
            if !progressed {
                return;
            }
        }
    }

    /// Set the clock to `at` and run what is due (jobs due meanwhile run
    /// late, at `at`).
    pub async fn at(&self, at: &str) {
        self.clock.set(t(at));
        self.settle().await;
    }

    pub async fn create(&self, title: &str, responsible: &str) -> Item {
        let item = self
            .engine
            .create_item(
                &self.tenant,
                body::<NewItem>(json!({"pipeline_id": PIPELINE, "stage_id": "new",
                    "title": title, "responsible_id": responsible})),
            )
            .await
            .expect("item");
        self.settle().await;
        item
    }

    pub async fn move_to(&self, item: &str, stage: &str) {
        self.engine
            .patch_item(
                &self.tenant,
                item,
                body::<ItemPatch>(json!({"stage_id": stage})),
                None,
            )
            .await
            .expect("move");
        self.settle().await;
    }

    pub async fn robot(&self, v: Value) -> String {
        self.engine
            .create_robot(&self.tenant, PIPELINE, body::<RobotBody>(v))
            .await
            .expect("robot")
            .id
    }

    fn query(
        &self,
        from: &str,
        to: &str,
        responsible: Option<&str>,
    ) -> crm_core::reports::ReportQuery {
        self.engine
            .report_query(
                PIPELINE.into(),
                Some(from),
                Some(to),
                None,
                responsible.map(str::to_string),
            )
            .expect("a valid period")
    }

    pub async fn stage_time(
        &self,
        from: &str,
        to: &str,
        responsible: Option<&str>,
    ) -> StageTimeReport {
        let q = self.query(from, to, responsible);
        self.engine
            .report_stage_time(&self.tenant, &q)
            .await
            .expect("report")
    }

    pub async fn conversion(&self, from: &str, to: &str) -> ConversionReport {
        let q = self.query(from, to, None);
        self.engine
            .report_conversion(&self.tenant, &q)
            .await
            .expect("report")
    }

    pub async fn robots(&self, from: &str, to: &str) -> RobotReport {
        let q = self.query(from, to, None);
        self.engine
            .report_robots(&self.tenant, &q)
            .await
            .expect("report")
    }
}

const H: f64 = 3600.0;

fn near(got: Option<f64>, want: f64, what: &str) {
    let got = got.unwrap_or_else(|| panic!("{what}: no value"));
    let err = if want == 0.0 {
        got.abs()
    } else {
        (got - want).abs() / want
    };
    assert!(err <= 0.05, "{what}: {got} is not within 5 % of {want}");
}

/// (count, visits, mean h, median h, p90 h) of a stage.
fn stage<'a>(r: &'a StageTimeReport, id: &str) -> &'a crm_core::reports::query::StageTimeRow {
    r.stages
        .iter()
        .find(|s| s.stage_id == id)
        .expect("stage row")
}

/// The history every store must report the same way (UTC times):
/// - 11-02 10:00 A (u-anna), B (u-dan), C (u-anna) created in New;
/// - 11:00 A → Prep; 12:00 B → Prep;
/// - 11-03 10:00 A → New again; 12:00 A → Prep again;
/// - 11-04 12:00 A → Won, B → Lost. C stays in New.
///
/// Robots: `late` in Prep, after 1 hour; `reminder` in New, after 1 day.
/// Jobs run when the clock is next set, so late ones are late by a known
/// amount.
pub async fn reports_match_a_hand_computed_history(store: Arc<dyn DocStore>, tenant: &str) {
    let rig = Rig::new(store, &format!("{tenant}-history"), "2026-11-02T10:00:00Z").await;
    let late = rig
        .robot(
            json!({"stage_id": "prep", "type": "add_timeline_comment", "name": "late",
            "delay": {"mode": "after", "amount": 1, "unit": "hours"}, "settings": {"text": "hi"}}),
        )
        .await;
    let reminder = rig
        .robot(json!({"stage_id": "new", "type": "add_timeline_comment", "name": "reminder",
            "delay": {"mode": "after", "amount": 1, "unit": "days"}, "settings": {"text": "still new"}}))
        .await;
    let a = rig.create("A", "u-anna").await;
    let b = rig.create("B", "u-dan").await;
    let c = rig.create("C", "u-anna").await;
    rig.at("2026-11-02T11:00:00Z").await;
    rig.move_to(&a.id, "prep").await;
    rig.at("2026-11-02T12:00:00Z").await;
    rig.move_to(&b.id, "prep").await; // A's `late` (due 12:00) runs on time
    rig.at("2026-11-03T10:00:00Z").await;
    rig.move_to(&a.id, "new").await; // B's `late` (due 11-02 13:00) runs 21 h late; C's reminder on time
    rig.at("2026-11-03T12:00:00Z").await;
    rig.move_to(&a.id, "prep").await;
    rig.at("2026-11-04T12:00:00Z").await;
    rig.move_to(&a.id, "won").await; // A's second `late` (due 11-03 13:00) runs 23 h late
    rig.move_to(&b.id, "lost").await;
    let _ = c;

    // Time in stage, summed over re-entries: New — A 1 h + 2 h = 3 h
    // (counted on 11-03), B 2 h (11-02); Prep — A 23 h + 24 h = 47 h, B 48 h
    // (both 11-04).
    let month = rig.stage_time("2026-11-01", "2026-11-30", None).await;
    let new = stage(&month, "new");
    assert_eq!((new.count, new.visits), (2, 3), "{month:?}");
    near(new.mean_seconds, 2.5 * H, "new mean");
    near(new.median_seconds, 2.0 * H, "new median");
    near(new.p90_seconds, 3.0 * H, "new p90");
    assert_eq!(new.total_seconds, 5.0 * H);
    let prep = stage(&month, "prep");
    assert_eq!((prep.count, prep.visits), (2, 3));
    near(prep.mean_seconds, 47.5 * H, "prep mean");
    near(prep.median_seconds, 47.0 * H, "prep median");
    near(prep.p90_seconds, 48.0 * H, "prep p90");
    let pres = stage(&month, "presentation");
    assert_eq!((pres.count, pres.visits, pres.mean_seconds), (0, 0, None));

    // Period boundaries: an item counts on the day it last left the stage.
    let d2 = rig.stage_time("2026-11-02", "2026-11-02", None).await;
    assert_eq!((stage(&d2, "new").count, stage(&d2, "new").visits), (1, 2));
    near(
        stage(&d2, "new").mean_seconds,
        2.0 * H,
        "11-02 new mean (B)",
    );
    assert_eq!(stage(&d2, "prep").count, 0);
    let d3 = rig.stage_time("2026-11-03", "2026-11-03", None).await;
    assert_eq!((stage(&d3, "new").count, stage(&d3, "new").visits), (1, 1));
    near(
        stage(&d3, "new").mean_seconds,
        3.0 * H,
        "11-03 new mean (A)",
    );
    assert_eq!(
        (stage(&d3, "prep").count, stage(&d3, "prep").visits),
        (0, 1)
    );
    let d4 = rig.stage_time("2026-11-04", "2026-11-30", None).await;
    assert_eq!(
        (stage(&d4, "prep").count, stage(&d4, "prep").visits),
        (2, 2)
    );
    assert_eq!(stage(&d4, "new").count, 0);

    // Per responsible.
    let anna = rig
        .stage_time("2026-11-01", "2026-11-30", Some("u-anna"))
        .await;
    assert_eq!(stage(&anna, "new").count, 1);
    near(stage(&anna, "new").mean_seconds, 3.0 * H, "anna new");
    near(stage(&anna, "prep").mean_seconds, 47.0 * H, "anna prep");
    let dan = rig
        .stage_time("2026-11-01", "2026-11-30", Some("u-dan"))
        .await;
    near(stage(&dan, "new").mean_seconds, 2.0 * H, "dan new");
    near(stage(&dan, "prep").mean_seconds, 48.0 * H, "dan prep");
    assert_eq!(stage(&dan, "prep").count, 1);

    // Conversion: entries New 3 + 1, Prep 3, Presentation 0, Won 1, Lost 1;
    // A converted in 50 h.
    let conv = rig.conversion("2026-11-01", "2026-11-30").await;
    let entered: Vec<(String, i64, Option<f64>)> = conv
        .stages
        .iter()
        .map(|s| (s.stage_id.clone(), s.entered, s.conversion_percent))
        .collect();
    assert_eq!(
        entered,
        vec![
            ("new".into(), 4, None),
            ("prep".into(), 3, Some(75.0)),
            ("presentation".into(), 0, Some(0.0)),
            ("won".into(), 1, None),
            ("lost".into(), 1, None),
        ]
    );
    assert_eq!((conv.success, conv.failure), (1, 1));
    assert_eq!(conv.processing_time.count, 1);
    near(
        conv.processing_time.mean_seconds,
        50.0 * H,
        "conversion mean",
    );
    near(
        conv.processing_time.median_seconds,
        50.0 * H,
        "conversion median",
    );
    let first_day = rig.conversion("2026-11-02", "2026-11-02").await;
    assert_eq!(first_day.stages[0].entered, 3);
    assert_eq!(first_day.stages[1].entered, 2);
    assert_eq!(first_day.success, 0);

    // Robots: `late` done 3 times, late 0 h, 21 h, 23 h; `reminder` done
    // once (C, on time) and cancelled 3 times (A twice, B).
    let robots = rig.robots("2026-11-01", "2026-11-30").await;
    let row = |id: &str| {
        robots
            .robots
            .iter()
            .find(|r| r.robot_id == id)
            .expect("robot row")
            .clone()
    };
    let l = row(&late);
    assert_eq!((l.runs.done, l.total, l.lateness.count), (3, 3, 3), "{l:?}");
    near(l.lateness.p50_seconds, 21.0 * H, "late p50");
    near(l.lateness.p99_seconds, 23.0 * H, "late p99");
    let r = row(&reminder);
    assert_eq!((r.runs.done, r.runs.cancelled, r.total), (1, 3, 4), "{r:?}");
    assert_eq!(r.lateness.count, 1);
    near(r.lateness.p50_seconds, 0.0, "reminder on time");
    assert!(!l.deleted && !r.deleted);

    // A deleted robot stays, by name and marked deleted, for the period it
    // ran in (its record goes through this store).
    rig.engine
        .delete_robot(&rig.tenant, PIPELINE, &late)
        .await
        .expect("delete");
    let after = rig.robots("2026-11-01", "2026-11-30").await;
    let gone = after
        .robots
        .iter()
        .find(|x| x.robot_id == late)
        .expect("the deleted robot's row");
    assert!(gone.deleted, "{gone:?}");
    assert_eq!(
        (gone.name.as_str(), gone.runs.done, gone.total),
        (l.name.as_str(), 3, 3)
    );
    assert_eq!(after.robots.len(), robots.robots.len());
}

/// A repeated outbox record (a stream record seen twice, the sweeper and
/// the stream at once) counts its visit once.
pub async fn a_repeated_outbox_record_counts_once(store: Arc<dyn DocStore>, tenant: &str) {
    let rig = Rig::new(store, &format!("{tenant}-repeat"), "2026-11-02T10:00:00Z").await;
    let a = rig.create("A", "u-anna").await;
    rig.at("2026-11-02T11:00:00Z").await;
    rig.engine
        .patch_item(
            &rig.tenant,
            &a.id,
            body::<ItemPatch>(json!({"stage_id": "prep"})),
            None,
        )
        .await
        .expect("move");
    let records = rig.outbox().await;
    assert_eq!(records.len(), 1);
    let record = records[0].clone();
    rig.engine
        .process_outbox(record.clone())
        .await
        .expect("first");
    rig.engine
        .process_outbox(record.clone())
        .await
        .expect("again");
    // Two at once, from the start (another copy of the same record).
    let (x, y) = tokio::join!(
        rig.engine.process_outbox(record.clone()),
        rig.engine.process_outbox(record)
    );
    x.expect("concurrent 1");
    y.expect("concurrent 2");
    rig.settle().await;
    let r = rig.stage_time("2026-11-02", "2026-11-02", None).await;
    assert_eq!((stage(&r, "new").count, stage(&r, "new").visits), (1, 1));
    let c = rig.conversion("2026-11-02", "2026-11-02").await;
    assert_eq!((c.stages[0].entered, c.stages[1].entered), (1, 1));
}

/// A store hook that applies the first transaction carrying report counts
/// and then answers as if it had failed (a lost response, a crash right
/// after the commit).
#[derive(Default)]
pub struct LoseOneResponse {
    armed: AtomicBool,
}

impl LoseOneResponse {
    /// Lose the response of the next transaction that carries counts.
    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }
}

#[async_trait]
impl TransactHook for LoseOneResponse {
    async fn transact(&self, inner: &dyn DocStore, writes: Vec<Write>) -> Result<(), StoreError> {
        let counts = writes.iter().any(|w| w.key().kind == Kind::Report);
        inner.transact(writes).await?;
        if counts && self.armed.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Unavailable("response lost (test)".into()));
        }
        Ok(())
    }
}

/// A commit whose response is lost is retried by its caller (the stream's
/// retry of the record, the queue's redelivery of the job): the retry finds
/// the work done and counts nothing more.
pub async fn a_retry_after_a_lost_response_counts_once(store: Arc<dyn DocStore>, tenant: &str) {
    let lossy = Arc::new(HookedStore::new(store, LoseOneResponse::default()));
    let rig = Rig::new(
        lossy.clone(),
        &format!("{tenant}-lost"),
        "2026-11-02T10:00:00Z",
    )
    .await;
    let robot = rig
        .robot(
            json!({"stage_id": "prep", "type": "add_timeline_comment", "name": "now",
            "delay": {"mode": "immediately"}, "settings": {"text": "hi"}}),
        )
        .await;
    let a = rig.create("A", "u-anna").await;
    rig.at("2026-11-02T11:00:00Z").await;
    rig.engine
        .patch_item(
            &rig.tenant,
            &a.id,
            body::<ItemPatch>(json!({"stage_id": "prep"})),
            None,
        )
        .await
        .expect("move");
    // The stage change: its commit lands, its answer is lost, it is retried.
    let record = rig.outbox().await.remove(0);
    lossy.hook().arm();
    assert!(rig.engine.process_outbox(record.clone()).await.is_err());
    rig.engine.process_outbox(record).await.expect("the retry");
    // The robot run: same.
    let job = rig.jobs.pop_due(rig.clock.now()).expect("the robot's job");
    lossy.hook().arm();
    assert!(rig.engine.run_job(job.clone()).await.is_err());
    assert_eq!(
        rig.engine.run_job(job).await.expect("the redelivery"),
        RunOutcome::AlreadyFinished
    );
    rig.settle().await;
    let r = rig.stage_time("2026-11-02", "2026-11-02", None).await;
    assert_eq!((stage(&r, "new").count, stage(&r, "new").visits), (1, 1));
    assert_eq!(
        rig.conversion("2026-11-02", "2026-11-02").await.stages[1].entered,
        1
    );
    let robots = rig.robots("2026-11-02", "2026-11-02").await;
    let row = robots
        .robots
        .iter()
        .find(|r| r.robot_id == robot)
        .expect("row");
    assert_eq!((row.runs.done, row.total), (1, 1));
    let runs = rig.engine.runs(&rig.tenant, &a.id).await.expect("runs");
    assert!(runs.iter().any(|r| r.status == RunStatus::Done));
}

/// Many items of one stage and day changing at once: every change counted
/// (the aggregate documents they share are retried, not overwritten).
pub async fn concurrent_changes_are_all_counted(store: Arc<dyn DocStore>, tenant: &str, n: usize) {
    let rig = Rig::new(store, &format!("{tenant}-busy"), "2026-11-02T10:00:00Z").await;
    let mut ids = Vec::new();
    for i in 0..n {
        let item = rig
            .engine
            .create_item(
                &rig.tenant,
                body::<NewItem>(json!({"pipeline_id": PIPELINE, "title": format!("i{i}"),
                    "responsible_id": "u-anna"})),
            )
            .await
            .expect("item");
        ids.push(item.id);
    }
    let records = rig.outbox().await;
    assert_eq!(records.len(), n);
    let all =
        futures::future::join_all(records.into_iter().map(|d| rig.engine.process_outbox(d))).await;
    for r in all {
        r.expect("processed");
    }
    rig.clock.set(rig.clock.now() + Duration::hours(1));
    for id in &ids {
        rig.engine
            .patch_item(
                &rig.tenant,
                id,
                body::<ItemPatch>(json!({"stage_id": "prep"})),
                None,
            )
            .await
            .expect("move");
    }
    let records = rig.outbox().await;
    let all =
        futures::future::join_all(records.into_iter().map(|d| rig.engine.process_outbox(d))).await;
    for r in all {
        r.expect("processed");
    }
    let r = rig.stage_time("2026-11-02", "2026-11-02", None).await;
    let n = i64::try_from(n).expect("small");
    assert_eq!((stage(&r, "new").count, stage(&r, "new").visits), (n, n));
    near(stage(&r, "new").mean_seconds, H, "one hour each");
    let c = rig.conversion("2026-11-02", "2026-11-02").await;
    assert_eq!((c.stages[0].entered, c.stages[1].entered), (n, n));
}

/// Every reports check on one store.
pub async fn run_all_reports(store: Arc<dyn DocStore>, tenant: &str) {
    reports_match_a_hand_computed_history(store.clone(), tenant).await;
    a_repeated_outbox_record_counts_once(store.clone(), tenant).await;
    a_retry_after_a_lost_response_counts_once(store.clone(), tenant).await;
    concurrent_changes_are_all_counted(store, tenant, 12).await;
}
