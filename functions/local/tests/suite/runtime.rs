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

/// A provider that fails (transiently) while `failures_left > 0`, and
/// rejects every message while `reject` is set.
struct FlakyDelivery {
    failures_left: std::sync::atomic::AtomicI64,
    reject: std::sync::atomic::AtomicBool,
    calls: std::sync::atomic::AtomicUsize,
    delivered: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl crm_core::ports::Delivery for FlakyDelivery {
    async fn deliver(
        &self,
        message: &crm_core::model::Outbound,
    ) -> Result<crm_core::ports::Delivered, crm_core::ports::PortError> {
        use std::sync::atomic::Ordering;
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.reject.load(Ordering::SeqCst) {
            return Err(crm_core::ports::PortError::Rejected(
                "550 mailbox unavailable".into(),
            ));
        }
        if self.failures_left.fetch_sub(1, Ordering::SeqCst) > 0 {
            return Err(crm_core::ports::PortError::Unavailable(
                "provider down".into(),
            ));
        }
        self.delivered.lock().unwrap().push(message.id.clone());
        Ok(crm_core::ports::Delivered {
            provider_message_id: Some(format!("p-{}", message.id)),
        })
    }
}

#[tokio::test]
async fn failing_delivery_is_retried_on_a_timer_then_dead_lettered() {
    use crm_core::model::OutboundStatus;
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let delivery = Arc::new(FlakyDelivery {
        failures_left: std::sync::atomic::AtomicI64::new(2),
        reject: std::sync::atomic::AtomicBool::new(false),
        calls: std::sync::atomic::AtomicUsize::new(0),
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
    let first = e.create_item(T, mk("First")).await.unwrap();
    let message = |item: &str| {
        let e = e.clone();
        let item = item.to_string();
        async move {
            let all = e.list_outbound(T, None).await.unwrap();
            all.into_iter()
                .find(|m| m.item_id.as_deref() == Some(item.as_str()))
                .expect("the item's message")
        }
    };
    // The first attempt fails: queued again, for a minute later, on a timer.
    rt.advance(TimeDelta::zero()).await.unwrap();
    let m = message(&first.id).await;
    assert_eq!(m.status, OutboundStatus::Queued, "{m:?}");
    assert_eq!(m.attempts, 1);
    assert_eq!(m.last_error.as_deref(), Some("provider down"));
    assert_eq!(m.next_attempt_at, Some(at("2026-11-23T08:01:00Z")));
    assert_eq!(
        rt.backlog().await.unwrap().outbox,
        0,
        "a timer, not the outbox"
    );
    // A minute later: the second attempt fails too (next after 5 minutes)…
    rt.advance(TimeDelta::seconds(60)).await.unwrap();
    assert_eq!(message(&first.id).await.attempts, 2);
    rt.advance(TimeDelta::seconds(299)).await.unwrap();
    assert!(
        delivery.delivered.lock().unwrap().is_empty(),
        "not before its time"
    );
    // …and the third goes out.
    rt.advance(TimeDelta::seconds(1)).await.unwrap();
    let m = message(&first.id).await;
    assert_eq!(m.status, OutboundStatus::Sent, "{m:?}");
    assert_eq!(m.attempts, 3);
    assert_eq!(m.provider_message_id, Some(format!("p-{}", m.id)));
    assert_eq!(*delivery.delivered.lock().unwrap(), vec![m.id.clone()]);
    assert_eq!(delivery.calls.load(Ordering::SeqCst), 3);

    // The provider rejects the message: failed at once, on the timeline.
    delivery.reject.store(true, Ordering::SeqCst);
    let second = e.create_item(T, mk("Second")).await.unwrap();
    rt.advance(TimeDelta::zero()).await.unwrap();
    let m = message(&second.id).await;
    assert_eq!(m.status, OutboundStatus::Failed, "{m:?}");
    assert!(m.last_error.as_deref().unwrap().contains("550"), "{m:?}");
    let timeline = e.timeline(T, &second.id).await.unwrap();
    assert!(
        timeline.iter().any(|t| t.kind == "delivery_failed"
            && t.text.contains("Email to c@client.test failed: 550")),
        "{timeline:?}"
    );
    // Nothing more happens to it, however long we wait…
    rt.advance(TimeDelta::days(1)).await.unwrap();
    assert_eq!(delivery.calls.load(Ordering::SeqCst), 4);
    // …until it is retried by hand.
    delivery.reject.store(false, Ordering::SeqCst);
    let again = e.retry_outbound(T, &m.id).await.unwrap();
    assert_eq!(again.status, OutboundStatus::Queued);
    rt.advance(TimeDelta::zero()).await.unwrap();
    let m = message(&second.id).await;
    assert_eq!(m.status, OutboundStatus::Sent, "{m:?}");
    assert_eq!(delivery.delivered.lock().unwrap().len(), 2);
    assert_eq!(rt.backlog().await.unwrap().outbox, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_writers_wait_while_the_worker_is_far_behind_on_its_work_only() {
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
    // Nothing runs the outbox: three admitted writes of T are pending.
    for n in 0..3 {
        rt.admit_write(T).await;
        item(&e, &format!("Pending {n}")).await;
        rt.notify();
    }
    assert_eq!(rt.backlog().await.unwrap().outbox, 3);
    assert!(
        tokio::time::timeout(Duration::from_millis(100), rt.admit_write(T))
            .await
            .is_err(),
        "T's writer must wait while the worker is behind on T's work"
    );
    tokio::time::timeout(Duration::from_millis(100), rt.admit_write("other-tenant"))
        .await
        .expect("another tenant's writer does not wait for T's backlog");
    // The worker catches up: T's writer goes ahead.
    let worker = rt.spawn_worker();
    tokio::time::timeout(Duration::from_secs(10), rt.admit_write(T))
        .await
        .expect("released once the worker caught up");
    worker.shutdown().await;
    // Capacity was freed by the worker (which may stop before draining the
    // rest; what is left stays stored for the next start).
    assert!(rt.backlog().await.unwrap().outbox < 3);
}
