//! Retention's contract (issue #11): on every store adapter, a finished run
//! record and a sent message carry the expiry of their retention (on the
//! record and on its list entry), a pending run never does, what the store
//! deletes at expiry is exactly the expired records, and a job redelivered
//! for a purged run does nothing.
//!
//! Stores with a purge of their own (memory, SQLite: `DocStore::purge_expired`)
//! are purged; DynamoDB deletes expired items itself, some time after their
//! `expires_at` (its TTL), which LocalStack does not emulate promptly, so on
//! AWS the check deletes the expired records by key as the TTL would.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use crm_core::api::{NewItem, PipelineBody, RobotBody, UserBody};
use crm_core::memory::{ManualClock, MemDelivery, MemEvents, MemJobs, SeqIds};
use crm_core::model::{Item, RunStatus};
use crm_core::ports::{Clock, Doc, DocKey, DocStore, Job, Kind, Ports, Write};
use crm_core::retention::Retention;
use crm_core::{Engine, EngineConfig, RunOutcome};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Days finished runs are kept in the check.
const RUN_DAYS: i64 = 30;
/// Days sent messages are kept in the check.
const MESSAGE_DAYS: i64 = 45;

fn body<B: DeserializeOwned>(v: Value) -> B {
    serde_json::from_value(v).expect("a valid request body")
}

/// How expired records leave the store under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// The store purges them itself (`DocStore::purge_expired`).
    Purged,
    /// The backend deletes them (DynamoDB TTL): the check deletes them by key.
    Backend,
}

struct Rig {
    engine: Engine,
    store: Arc<dyn DocStore>,
    jobs: Arc<MemJobs>,
    events: Arc<MemEvents>,
    clock: Arc<ManualClock>,
    tenant: String,
}

impl Rig {
    async fn new(store: Arc<dyn DocStore>, tenant: &str) -> Rig {
        let jobs = Arc::new(MemJobs::new());
        let events = Arc::new(MemEvents::new());
        let start = DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let clock = Arc::new(ManualClock::new(start));
        let ports = Ports {
            store: store.clone(),
            jobs: jobs.clone(),
            scheduler: jobs.clone(),
            events: events.clone(),
            delivery: Arc::new(MemDelivery::new()),
            clock: clock.clone(),
            ids: Arc::new(SeqIds::new()),
            blobs: Arc::new(crm_core::memory_blobs::MemoryBlobs::new()),
            http: Arc::new(crm_core::memory_http::MemHttp::new()),
        };
        let config = EngineConfig {
            retention: Retention::days(RUN_DAYS, MESSAGE_DAYS).expect("in range"),
            ..EngineConfig::default()
        };
        let rig = Rig {
            engine: Engine::new(ports, config),
            store,
            jobs,
            events,
            clock,
            tenant: tenant.to_string(),
        };
        rig.engine
            .put_user(
                tenant,
                "u-anna",
                body::<UserBody>(json!({"name": "Anna", "time_zone": "UTC"})),
            )
            .await
            .expect("user");
        let stages = json!([
            {"id": "new", "name": "New orders", "semantic": "process"},
            {"id": "won", "name": "Won", "semantic": "success"}]);
        rig.engine
            .put_pipeline(
                tenant,
                "deals",
                body::<PipelineBody>(
                    json!({"entity_type": "deal", "name": "Sales", "stages": stages}),
                ),
            )
            .await
            .expect("pipeline");
        for robot in [
            json!({"stage_id": "new", "type": "notify_employee", "name": "now",
                "settings": {"text": "{{title}} arrived", "recipient_ids": ["u-anna"]}}),
            json!({"stage_id": "new", "type": "email_client", "name": "mail",
                "settings": {"subject": "Offer", "text": "Dear {{client.name}}"}}),
            json!({"stage_id": "new", "type": "notify_employee", "name": "later",
                "delay": {"mode": "after", "amount": 100, "unit": "days"},
                "settings": {"text": "{{title}} still here", "recipient_ids": ["u-anna"]}}),
        ] {
            rig.engine
                .create_robot(tenant, "deals", body::<RobotBody>(robot))
                .await
                .expect("robot");
        }
        rig
    }

    /// Process this tenant's outbox, events and due jobs until nothing moves.
    async fn settle(&self) {
        loop {
            let mut progressed = false;
            let outbox = self.engine.pending_outbox().await.expect("outbox");
            for d in outbox {
                if Engine::outbox_tenant(&d) == self.tenant {
                    self.engine.process_outbox(d).await.expect("outbox record");
                    progressed = true;
                }
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

    async fn docs(&self, kind: Kind, parent: &str) -> Vec<Doc> {
        self.store
            .list(&self.tenant, kind, parent)
            .await
            .expect("list")
    }

    async fn get(&self, kind: Kind, id: &str) -> Option<Doc> {
        self.store
            .get(&DocKey::new(self.tenant.as_str(), kind, id))
            .await
            .expect("get")
    }

    /// Let the store delete what expired by `at`.
    async fn expire(&self, expiry: Expiry, at: DateTime<Utc>, ours: &[Doc]) {
        match expiry {
            Expiry::Purged => loop {
                let n = self
                    .store
                    .purge_expired(at.timestamp(), 1_000)
                    .await
                    .expect("purge");
                if n < 1_000 {
                    break;
                }
            },
            Expiry::Backend => {
                for d in ours
                    .iter()
                    .filter(|d| d.expires_at.is_some_and(|t| t < at.timestamp()))
                {
                    self.store
                        .transact(vec![Write::Delete {
                            key: d.key.clone(),
                            parent: d.parent.clone(),
                            cond: crm_core::ports::Cond::Any,
                        }])
                        .await
                        .expect("delete as the TTL does");
                }
            }
        }
    }
}

fn status(d: &Doc) -> String {
    d.body["status"].as_str().unwrap_or_default().to_string()
}

/// Finished runs and sent messages expire after their retention, on every
/// store; pending runs do not; a job for a purged run does nothing.
pub async fn finished_runs_and_sent_messages_expire(
    store: Arc<dyn DocStore>,
    tenant: &str,
    expiry: Expiry,
) {
    let rig = Rig::new(store, tenant).await;
    let t0 = rig.clock.now();
    let item: Item = rig
        .engine
        .create_item(
            tenant,
            body::<NewItem>(json!({"pipeline_id": "deals", "stage_id": "new",
                "title": "Website", "responsible_id": "u-anna",
                "client": {"name": "Romashka", "email": "buyer@romashka.test"}})),
        )
        .await
        .expect("item");
    rig.settle().await;

    // Read through the list (the list entry on DynamoDB) and by key (the record).
    let listed = rig.docs(Kind::Run, &item.id).await;
    assert_eq!(listed.len(), 3, "three runs planned: {listed:#?}");
    let run_expiry = (t0 + Duration::days(RUN_DAYS)).timestamp();
    let (mut finished, mut pending) = (Vec::new(), Vec::new());
    for d in &listed {
        let by_key = rig.get(Kind::Run, &d.key.id).await.expect("the run by key");
        assert_eq!(
            by_key.expires_at, d.expires_at,
            "record and list entry expire together"
        );
        match status(d).as_str() {
            "done" => {
                assert_eq!(
                    d.expires_at,
                    Some(run_expiry),
                    "a finished run is kept {RUN_DAYS} days from when it finished"
                );
                finished.push(d.clone());
            }
            "pending" => {
                assert_eq!(d.expires_at, None, "a pending run never expires");
                pending.push(d.clone());
            }
            other => panic!("unexpected run status {other}: {d:#?}"),
        }
    }
    assert_eq!((finished.len(), pending.len()), (2, 1), "{listed:#?}");
    let messages = rig.docs(Kind::Outbound, "email").await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(status(&messages[0]), "sent");
    let message_expiry = (t0 + Duration::days(MESSAGE_DAYS)).timestamp();
    assert_eq!(messages[0].expires_at, Some(message_expiry));
    let notifications = rig.docs(Kind::Notification, "u-anna").await.len();
    assert_eq!(notifications, 1);

    // Before the retention ends nothing of it goes.
    let mut ours = listed.clone();
    ours.extend(messages.clone());
    rig.expire(
        expiry,
        t0 + Duration::days(RUN_DAYS) - Duration::seconds(1),
        &ours,
    )
    .await;
    assert_eq!(rig.docs(Kind::Run, &item.id).await.len(), 3);

    // After it: the finished runs go (record and list entry), the pending
    // run and the message (kept longer) stay.
    rig.expire(
        expiry,
        t0 + Duration::days(RUN_DAYS) + Duration::seconds(1),
        &ours,
    )
    .await;
    let left = rig.docs(Kind::Run, &item.id).await;
    assert_eq!(
        left.iter().map(|d| d.key.id.clone()).collect::<Vec<_>>(),
        vec![pending[0].key.id.clone()],
        "only the pending run is left: {left:#?}"
    );
    for d in &finished {
        assert_eq!(
            rig.get(Kind::Run, &d.key.id).await,
            None,
            "purged by key too"
        );
    }
    assert_eq!(rig.docs(Kind::Outbound, "email").await.len(), 1);
    assert!(
        rig.get(Kind::Item, &item.id).await.is_some(),
        "the item never expires"
    );

    // A job redelivered for a purged run finds no run and does nothing.
    let run: crm_core::model::RunRecord =
        serde_json::from_value(finished[0].body.clone()).expect("run record");
    assert_eq!(run.status, RunStatus::Done);
    let outcome = rig
        .engine
        .run_job(Job {
            tenant: tenant.to_string(),
            run_id: run.id.clone(),
            item_id: item.id.clone(),
            visit: run.visit,
            due_at: t0,
            then: Vec::new(),
        })
        .await
        .expect("the redelivered job");
    assert_eq!(outcome, RunOutcome::Unknown);
    assert_eq!(
        rig.docs(Kind::Notification, "u-anna").await.len(),
        notifications,
        "the purged run was not run again"
    );
    assert_eq!(rig.docs(Kind::Run, &item.id).await.len(), 1);

    // The message goes after its own retention.
    rig.expire(
        expiry,
        t0 + Duration::days(MESSAGE_DAYS) + Duration::seconds(1),
        &ours,
    )
    .await;
    assert_eq!(rig.docs(Kind::Outbound, "email").await.len(), 0);
    assert_eq!(rig.docs(Kind::Run, &item.id).await.len(), 1);
}
