//! The runtime's worker and manual clock, driven through the library API
//! (engine calls + `Runtime::advance`) on a temporary SQLite database (and
//! once on the in-memory adapters).

use std::sync::Arc;

use chrono::TimeDelta;
use crm_automation::{ClockMode, Runtime, RuntimeClock, RuntimeOptions};
use crm_core::Engine;
use crm_core::api::{NewItem, RobotBody};
use crm_core::memory::{MemEvents, MemJobs, MemStore};
use crm_core::model::{RunRecord, RunStatus};
use crm_core::ports::{Cond, DocKey, Kind, Write};
use crm_core::testing::{TENANT as T, at, body};
use serde_json::{Value, json};

fn manual(dir: &std::path::Path, start: &str) -> Runtime {
    Runtime::open(dir, RuntimeClock::new(ClockMode::Manual, Some(at(start)))).unwrap()
}

/// The standard company of `crm_core::testing` in tenant [`T`].
async fn setup(e: &Engine) {
    crm_core::testing::load(e, T).await.unwrap();
}

async fn robot(e: &Engine, v: Value) -> String {
    e.create_robot(T, "deals", body::<RobotBody>(v))
        .await
        .unwrap()
        .id
}

async fn item(e: &Engine, title: &str) -> String {
    e.create_item(
        T,
        body::<NewItem>(
            json!({"pipeline_id": "deals", "title": title, "responsible_id": "u-boss"}),
        ),
    )
    .await
    .unwrap()
    .id
}

fn run_of(runs: &[RunRecord], robot: &str) -> RunRecord {
    runs.iter()
        .rfind(|r| r.robot_id.as_deref() == Some(robot))
        .cloned()
        .unwrap_or_else(|| panic!("no run of {robot}: {runs:#?}"))
}

#[tokio::test]
async fn one_advance_runs_follow_up_delays_at_their_exact_times() {
    let dir = tempfile::tempdir().unwrap();
    follow_up_delays_at_their_exact_times(manual(dir.path(), "2026-11-23T08:00:00Z")).await;
}

/// The worker knows only the ports: on the in-memory adapters it does the same.
#[tokio::test]
async fn the_worker_runs_the_same_on_the_in_memory_adapters() {
    let rt = Runtime::new(
        Arc::new(MemStore::new()),
        Arc::new(MemJobs::new()),
        Arc::new(MemEvents::new()),
        RuntimeClock::new(ClockMode::Manual, Some(at("2026-11-23T08:00:00Z"))),
        RuntimeOptions::default(),
    );
    follow_up_delays_at_their_exact_times(rt).await;
}

async fn follow_up_delays_at_their_exact_times(rt: Runtime) {
    let e = rt.engine();
    setup(&e).await;
    let mover = robot(
        &e,
        json!({"stage_id": "new", "type": "change_stage",
            "delay": {"mode": "after", "amount": 1, "unit": "hours"},
            "settings": {"stage_id": "prep"}}),
    )
    .await;
    let note = robot(
        &e,
        json!({"stage_id": "prep", "type": "notify_employee",
            "delay": {"mode": "after", "amount": 30, "unit": "minutes"},
            "settings": {"text": "{{title}} is in prep", "recipient_ids": ["u-boss"]}}),
    )
    .await;
    let id = item(&e, "Chained").await;

    let now = rt.advance(TimeDelta::hours(3)).await.unwrap();
    assert_eq!(now, at("2026-11-23T11:00:00Z"));
    let runs = e.runs(T, &id).await.unwrap();
    assert_eq!(
        run_of(&runs, &mover).finished_at,
        Some(at("2026-11-23T09:00:00Z"))
    );
    let n = run_of(&runs, &note);
    assert_eq!(n.status, RunStatus::Done);
    assert_eq!(n.finished_at, Some(at("2026-11-23T09:30:00Z")));
    let notes = e.list_notifications(T, "u-boss").await.unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].at, at("2026-11-23T09:30:00Z"));
    let b = rt.backlog().await.unwrap();
    assert_eq!((b.outbox, b.events, b.jobs), (0, 0, 0));
}

#[tokio::test]
async fn delayed_robots_run_in_due_order() {
    let dir = tempfile::tempdir().unwrap();
    let rt = manual(dir.path(), "2026-11-23T08:00:00Z");
    let e = rt.engine();
    setup(&e).await;
    for minutes in [50, 10, 30] {
        robot(
            &e,
            json!({"stage_id": "new", "type": "notify_employee",
                "delay": {"mode": "after", "amount": minutes, "unit": "minutes"},
                "settings": {"text": format!("after {minutes}"), "recipient_ids": ["u-boss"]}}),
        )
        .await;
    }
    item(&e, "Ordered").await;
    rt.advance(TimeDelta::minutes(40)).await.unwrap();
    let texts: Vec<String> = e
        .list_notifications(T, "u-boss")
        .await
        .unwrap()
        .into_iter()
        .map(|n| format!("{} {}", n.at.format("%H:%M"), n.text))
        .collect();
    assert_eq!(texts, ["08:10 after 10", "08:30 after 30"]);
    rt.advance(TimeDelta::minutes(40)).await.unwrap();
    assert_eq!(e.list_notifications(T, "u-boss").await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_run_claimed_by_a_crashed_runner_runs_once_after_its_claim_expires() {
    let dir = tempfile::tempdir().unwrap();
    let start = "2026-11-23T08:00:00Z";
    let (id, r) = {
        let rt = manual(dir.path(), start);
        let e = rt.engine();
        setup(&e).await;
        let r = robot(
            &e,
            json!({"stage_id": "new", "type": "notify_employee",
                "delay": {"mode": "after", "amount": 1, "unit": "hours"},
                "settings": {"text": "ping", "recipient_ids": ["u-boss"]}}),
        )
        .await;
        let id = item(&e, "Claimed").await;
        rt.advance(TimeDelta::zero()).await.unwrap();
        // What a runner that crashed at 09:00 right after claiming leaves behind.
        let key = DocKey::new(T, Kind::Run, format!("{id}:1:{r}"));
        let store = &e.ports().store;
        let mut doc = store.get(&key).await.unwrap().unwrap();
        let mut run: RunRecord = serde_json::from_value(doc.body.clone()).unwrap();
        assert_eq!(run.status, RunStatus::Pending);
        run.status = RunStatus::Running;
        run.claim_until = Some(at("2026-11-23T09:05:00Z"));
        run.attempts = 1;
        doc.body = serde_json::to_value(&run).unwrap();
        let v = doc.version;
        doc.version += 1;
        store
            .transact(vec![Write::Put {
                doc,
                cond: Cond::Version(v),
            }])
            .await
            .unwrap();
        (id, r)
    };
    // Restart on the same file; the job is still stored.
    let rt = manual(dir.path(), start);
    let e = rt.engine();
    assert_eq!(rt.backlog().await.unwrap().jobs, 1);
    rt.advance(TimeDelta::minutes(62)).await.unwrap();
    assert!(e.list_notifications(T, "u-boss").await.unwrap().is_empty());
    assert_eq!(
        rt.backlog().await.unwrap().jobs,
        1,
        "held, not dropped, while the claim is live"
    );
    rt.advance(TimeDelta::hours(1)).await.unwrap();
    let run = run_of(&e.runs(T, &id).await.unwrap(), &r);
    assert_eq!(run.status, RunStatus::Done);
    assert_eq!(run.finished_at, Some(at("2026-11-23T09:05:00Z")));
    assert_eq!(run.attempts, 2);
    assert_eq!(e.list_notifications(T, "u-boss").await.unwrap().len(), 1);
    assert_eq!(rt.backlog().await.unwrap().jobs, 0);
}

#[tokio::test]
async fn the_system_clock_cannot_be_advanced_and_the_worker_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::open(dir.path(), RuntimeClock::new(ClockMode::System, None)).unwrap();
    assert!(rt.clock_control().is_none());
    assert!(matches!(
        rt.advance(TimeDelta::seconds(1)).await,
        Err(crm_automation::RuntimeError::NotManual)
    ));
    let e = rt.engine();
    setup(&e).await;
    robot(
        &e,
        json!({"stage_id": "new", "type": "notify_employee",
            "settings": {"text": "hello", "recipient_ids": ["u-boss"]}}),
    )
    .await;
    let worker = rt.spawn_worker();
    item(&e, "Woken").await;
    rt.notify();
    let started = std::time::Instant::now();
    while e.list_notifications(T, "u-boss").await.unwrap().is_empty() {
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    worker.shutdown().await;
    let b = rt.backlog().await.unwrap();
    assert_eq!((b.outbox, b.events, b.jobs), (0, 0, 0));
}

/// A provider that fails while `failures_left > 0`.
struct FlakyDelivery {
    failures_left: std::sync::atomic::AtomicI64,
    delivered: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl crm_core::ports::Delivery for FlakyDelivery {
    async fn deliver(
        &self,
        message: &crm_core::model::Outbound,
    ) -> Result<(), crm_core::ports::PortError> {
        use std::sync::atomic::Ordering;
        if self.failures_left.fetch_sub(1, Ordering::SeqCst) > 0 {
            return Err(crm_core::ports::PortError::Unavailable(
                "provider down".into(),
            ));
        }
        let mut d = self.delivered.lock().unwrap();
        if !d.contains(&message.id) {
            d.push(message.id.clone());
        }
        Ok(())
    }
}

#[tokio::test]
async fn failing_delivery_is_retried_never_dropped() {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let delivery = Arc::new(FlakyDelivery {
        failures_left: std::sync::atomic::AtomicI64::new(2),
        delivered: std::sync::Mutex::new(Vec::new()),
    });
    let options = crm_automation::RuntimeOptions {
        delivery: delivery.clone(),
        ..Default::default()
    };
    let rt = Runtime::with_db(
        crm_embedded::Db::open(dir.path()).unwrap(),
        RuntimeClock::new(ClockMode::Manual, Some(at("2026-11-23T08:00:00Z"))),
        options,
    );
    let e = rt.engine();
    setup(&e).await;
    robot(
        &e,
        json!({"stage_id": "new", "type": "email_client",
            "settings": {"subject": "Hello", "text": "Your order {{title}} is in"}}),
    )
    .await;
    let mk = |title: &str| {
        body::<NewItem>(json!({"pipeline_id": "deals", "title": title,
            "responsible_id": "u-boss", "client": {"name": "C", "email": "c@client.test"}}))
    };
    e.create_item(T, mk("First")).await.unwrap();
    // Two failures, then the provider recovers: the advance retries and succeeds.
    rt.advance(TimeDelta::zero()).await.unwrap();
    assert_eq!(delivery.delivered.lock().unwrap().len(), 1);
    let sent = e.list_outbound(T, None).await.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        serde_json::to_value(sent[0].status).unwrap(),
        json!("sent"),
        "{sent:?}"
    );

    // The provider is down for good: the advance reports it, the message stays queued…
    delivery.failures_left.store(i64::MAX, Ordering::SeqCst);
    e.create_item(T, mk("Second")).await.unwrap();
    let err = rt.advance(TimeDelta::zero()).await.unwrap_err();
    assert!(
        matches!(err, crm_automation::RuntimeError::Failing { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("provider down"), "{err}");
    assert_eq!(rt.backlog().await.unwrap().outbox, 1);
    assert_eq!(delivery.delivered.lock().unwrap().len(), 1);

    // …and goes out once the provider is back.
    delivery.failures_left.store(0, Ordering::SeqCst);
    rt.advance(TimeDelta::zero()).await.unwrap();
    assert_eq!(delivery.delivered.lock().unwrap().len(), 2);
    assert_eq!(rt.backlog().await.unwrap().outbox, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_wait_while_the_worker_is_far_behind() {
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let options = crm_automation::RuntimeOptions {
        max_backlog: 3,
        ..Default::default()
    };
    let rt = Runtime::with_db(
        crm_embedded::Db::open(dir.path()).unwrap(),
        RuntimeClock::new(ClockMode::Manual, Some(at("2026-11-23T08:00:00Z"))),
        options,
    );
    let e = rt.engine();
    setup(&e).await;
    // Nothing runs the outbox: three accepted writes are pending.
    for n in 0..3 {
        item(&e, &format!("Pending {n}")).await;
        rt.note_write();
    }
    assert_eq!(rt.backlog().await.unwrap().outbox, 3);
    assert!(
        tokio::time::timeout(Duration::from_millis(100), rt.wait_for_capacity())
            .await
            .is_err(),
        "a writer must wait while the worker is behind"
    );
    // The worker catches up: the writer goes ahead.
    let worker = rt.spawn_worker();
    tokio::time::timeout(Duration::from_secs(10), rt.wait_for_capacity())
        .await
        .expect("released once the worker caught up");
    worker.shutdown().await;
    // Capacity was freed by the worker (which may stop before draining the
    // rest; what is left stays stored for the next start).
    assert!(rt.backlog().await.unwrap().outbox < 3);
}
