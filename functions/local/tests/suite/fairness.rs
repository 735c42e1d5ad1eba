//! Fairness of the local worker between tenants (README, "Fairness"): one
//! tenant's backlog of fan-out events or due jobs cannot hold back another
//! tenant's immediate robot for more than a pass, and an event matching many
//! items is evaluated over several passes, for each item exactly once, even
//! across restarts. The tests look at the order in which work was committed,
//! never at the wall clock.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::TimeDelta;
use crm_automation::{ClockMode, Runtime, RuntimeClock, RuntimeOptions};
use crm_core::Engine;
use crm_core::api::{EventBody, NewItem, RobotBody, TriggerBody};
use crm_core::hooked_store::{HookedStore, TransactHook};
use crm_core::model::{RunKind, RunRecord, RunStatus};
use crm_core::ports::{DocStore, Kind, StoreError, Write};
use crm_core::testing::{TENANT as A, at, body};
use crm_embedded::Db;
use serde_json::json;

const B: &str = "beta";
const PHONE: &str = "+7 495 123 45 67";
const START: &str = "2026-11-23T08:00:00Z";

/// A run-log record as it was committed: (tenant, record).
type Committed = (String, RunRecord);

/// A store hook that remembers every run-log record committed, in commit
/// order (the order in which the worker did its work).
struct Recording {
    runs: Mutex<Vec<Committed>>,
}

#[async_trait]
impl TransactHook for Recording {
    async fn transact(&self, inner: &dyn DocStore, writes: Vec<Write>) -> Result<(), StoreError> {
        let runs: Vec<Committed> = writes
            .iter()
            .filter_map(|w| match w {
                Write::Put { doc, .. } if doc.key.kind == Kind::Run => Some((
                    doc.key.tenant.to_string(),
                    serde_json::from_value(doc.body.clone()).ok()?,
                )),
                _ => None,
            })
            .collect();
        inner.transact(writes).await?;
        self.runs.lock().unwrap().extend(runs);
        Ok(())
    }
}

/// A runtime with a manual clock on SQLite in `dir`, recording its runs.
fn recording(
    dir: &std::path::Path,
    options: RuntimeOptions,
) -> (Runtime, Arc<HookedStore<Recording>>) {
    let db = Db::open(dir).unwrap();
    let store = Arc::new(HookedStore::new(
        Arc::new(db.store()),
        Recording {
            runs: Mutex::new(Vec::new()),
        },
    ));
    let rt = Runtime::new(
        store.clone(),
        Arc::new(db.jobs()),
        Arc::new(db.events()),
        RuntimeClock::new(ClockMode::Manual, Some(at(START))),
        options,
    );
    (rt, store)
}

fn runtime(dir: &std::path::Path, options: RuntimeOptions) -> Runtime {
    Runtime::with_db(
        Db::open(dir).unwrap(),
        RuntimeClock::new(ClockMode::Manual, Some(at(START))),
        options,
    )
}

async fn robot(e: &Engine, tenant: &str, v: serde_json::Value) -> String {
    e.create_robot(tenant, "deals", body::<RobotBody>(v))
        .await
        .unwrap()
        .id
}

async fn item(e: &Engine, tenant: &str, title: &str, phone: Option<&str>) -> String {
    let mut v = json!({"pipeline_id": "deals", "title": title, "responsible_id": "u-boss"});
    if let Some(p) = phone {
        v["client"] = json!({"name": "Client", "phone": p});
    }
    e.create_item(tenant, body::<NewItem>(v)).await.unwrap().id
}

async fn call_from(e: &Engine, phone: &str) -> String {
    e.submit_event(
        A,
        body::<EventBody>(json!({"type": "incoming_call", "client": {"phone": phone}})),
    )
    .await
    .unwrap()
}

/// A recording runtime where tenants A and B each have a robot on the
/// first stage, then A wrote `items` new items and B one (returned): all
/// their outbox records pending.
async fn burst_then_b(
    dir: &std::path::Path,
    options: RuntimeOptions,
    items: usize,
) -> (Runtime, Arc<HookedStore<Recording>>, String) {
    let (rt, rec) = recording(dir, options);
    let e = rt.engine();
    crm_core::testing::load(&e, A).await.unwrap();
    crm_core::testing::load(&e, B).await.unwrap();
    for tenant in [A, B] {
        robot(&e, tenant, notify_boss()).await;
    }
    rt.run_until_idle().await;
    for i in 0..items {
        item(&e, A, &format!("Burst {i}"), None).await;
    }
    let b_item = item(&e, B, "Urgent", None).await;
    (rt, rec, b_item)
}

/// An immediate robot on the first stage that notifies the boss.
fn notify_boss() -> serde_json::Value {
    json!({"stage_id": "new", "type": "notify_employee",
        "settings": {"text": "{{title}} is new", "recipient_ids": ["u-boss"]}})
}

/// How many robot runs of `tenant` were committed as done.
fn robots_done(runs: &[Committed], tenant: &str) -> usize {
    runs.iter()
        .filter(|(t, r)| t == tenant && r.kind == RunKind::Robot && r.status == RunStatus::Done)
        .count()
}

/// How many of tenant A's runs of `kind` were committed before tenant B's
/// first finished robot run (panics if B's robot never ran).
fn a_work_before_b(runs: &[Committed], kind: RunKind) -> usize {
    let b = runs
        .iter()
        .position(|(t, r)| t == B && r.kind == RunKind::Robot && r.status == RunStatus::Done)
        .expect("B's robot ran");
    runs[..b]
        .iter()
        .filter(|(t, r)| t == A && r.kind == kind && r.status.is_final())
        .count()
}

/// Tenant A queued many events, each matching many items by phone; tenant B
/// then adds an item whose robot runs at once. B's robot runs in the first
/// pass, after at most A's share of a pass (`batch` item evaluations), not
/// after all of A's evaluations.
#[tokio::test]
async fn fan_out_events_of_one_tenant_do_not_starve_another_tenants_robot() {
    const ITEMS: usize = 30;
    const EVENTS: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let options = RuntimeOptions::default();
    let share = options.batch;
    let (rt, rec) = recording(dir.path(), options);
    let e = rt.engine();
    crm_core::testing::load(&e, A).await.unwrap();
    crm_core::testing::load(&e, B).await.unwrap();
    for i in 0..ITEMS {
        item(&e, A, &format!("Called {i}"), Some(PHONE)).await;
    }
    let notify = robot(&e, B, notify_boss()).await;
    rt.run_until_idle().await;

    for _ in 0..EVENTS {
        call_from(&e, PHONE).await;
    }
    let b_item = item(&e, B, "Urgent", None).await;
    rt.run_until_idle().await;

    let runs = rec.hook().runs.lock().unwrap().clone();
    let evaluations = runs
        .iter()
        .filter(|(t, r)| t == A && r.kind == RunKind::Trigger)
        .count();
    assert_eq!(evaluations, ITEMS * EVENTS, "every event for every item");
    let before = a_work_before_b(&runs, RunKind::Trigger);
    assert!(
        before <= share,
        "B's robot ran after {before} of A's {evaluations} evaluations (a pass gives A {share})"
    );
    let b_runs = e.runs(B, &b_item).await.unwrap();
    assert!(
        b_runs
            .iter()
            .any(|r| r.robot_id.as_deref() == Some(notify.as_str()) && r.status == RunStatus::Done)
    );
    let backlog = rt.backlog().await.unwrap();
    assert_eq!((backlog.outbox, backlog.events, backlog.jobs), (0, 0, 0));
}

/// Tenant A has a backlog of due delayed robots; tenant B's immediate robot,
/// queued after them, is taken in the first batch, in turn with A's.
#[tokio::test]
async fn due_jobs_of_one_tenant_do_not_starve_another_tenants_robot() {
    const ITEMS: usize = 600;
    let dir = tempfile::tempdir().unwrap();
    let (rt, rec) = recording(dir.path(), RuntimeOptions::default());
    let e = rt.engine();
    crm_core::testing::load(&e, A).await.unwrap();
    crm_core::testing::load(&e, B).await.unwrap();
    robot(
        &e,
        A,
        json!({"stage_id": "new", "type": "notify_employee",
            "delay": {"mode": "after", "amount": 1, "unit": "hours"},
            "settings": {"text": "{{title}} waits", "recipient_ids": ["u-boss"]}}),
    )
    .await;
    robot(&e, B, notify_boss()).await;
    for i in 0..ITEMS {
        item(&e, A, &format!("Waiting {i}"), None).await;
    }
    rt.run_until_idle().await;
    assert_eq!(rt.backlog().await.unwrap().jobs, ITEMS);

    // An hour later all of A's robots are due; B's item comes after them.
    rt.clock()
        .manual()
        .unwrap()
        .set(at(START) + TimeDelta::hours(1));
    item(&e, B, "Urgent", None).await;
    rt.run_until_idle().await;

    let runs = rec.hook().runs.lock().unwrap().clone();
    assert_eq!(robots_done(&runs, A), ITEMS);
    let before = a_work_before_b(&runs, RunKind::Robot);
    assert!(
        before <= crm_automation::runtime::BATCH_RUNS,
        "B's robot ran after {before} of A's {ITEMS} due robots"
    );
}

/// A burst of item writes larger than a pass's share of jobs, and than a
/// page of the outbox, is planned in ONE pass (the outbox is not held to
/// `batch` per tenant; its backlog moves on to the job queue), tenant B's
/// write in turn with tenant A's, while the due jobs are still taken a
/// batch at a time, the tenants in turn.
#[tokio::test]
async fn one_pass_plans_every_pending_write_and_runs_a_share_of_the_jobs() {
    const ITEMS: usize = 300; // more than a page (256) of the outbox
    let dir = tempfile::tempdir().unwrap();
    let options = RuntimeOptions {
        batch: 16,
        ..RuntimeOptions::default()
    };
    let (rt, rec, b_item) = burst_then_b(dir.path(), options, ITEMS).await;
    let e = rt.engine();
    assert_eq!(rt.backlog().await.unwrap().outbox, ITEMS + 1);

    let pass = rt.run_pass().await;
    assert_eq!(
        pass.outbox,
        ITEMS + 1,
        "every pending write planned in one pass"
    );
    let left = rt.backlog().await.unwrap();
    assert_eq!(left.outbox, 0);
    assert_eq!(pass.jobs, 16, "a batch of due jobs, the tenants in turn");
    assert_eq!(
        left.jobs,
        ITEMS + 1 - 16,
        "A's other robots wait for the next pass"
    );
    let b_runs = e.runs(B, &b_item).await.unwrap();
    assert!(
        b_runs.iter().any(|r| r.status == RunStatus::Done),
        "{b_runs:#?}"
    );
    let before = a_work_before_b(&rec.hook().runs.lock().unwrap(), RunKind::Robot);
    assert!(before <= 16, "B's robot ran after {before} of A's");

    rt.run_until_idle().await;
    let runs = rec.hook().runs.lock().unwrap().clone();
    assert_eq!(robots_done(&runs, A), ITEMS, "each of A's robots ran once");
}

/// A tenant whose pending writes exceed its share of a pass
/// (`outbox_share`) has that many planned per pass, the rest in the next
/// ones; another tenant's write is planned, and its robot run, in the first.
#[tokio::test]
async fn a_tenant_over_its_share_of_the_outbox_waits_for_the_next_pass_alone() {
    const ITEMS: usize = 40;
    const SHARE: usize = 15;
    let dir = tempfile::tempdir().unwrap();
    let options = RuntimeOptions {
        outbox_share: SHARE,
        ..RuntimeOptions::default()
    };
    let (rt, rec, b_item) = burst_then_b(dir.path(), options, ITEMS).await;
    let e = rt.engine();

    let first = rt.run_pass().await;
    assert_eq!(first.outbox, SHARE + 1, "A's share and B's write");
    assert_eq!(rt.backlog().await.unwrap().outbox, ITEMS - SHARE);
    let b_runs = e.runs(B, &b_item).await.unwrap();
    assert!(
        b_runs.iter().any(|r| r.status == RunStatus::Done),
        "{b_runs:#?}"
    );
    assert_eq!(rt.run_pass().await.outbox, SHARE);
    assert_eq!(rt.run_pass().await.outbox, ITEMS - 2 * SHARE);
    assert_eq!(rt.backlog().await.unwrap().outbox, 0);

    rt.run_until_idle().await;
    let runs = rec.hook().runs.lock().unwrap().clone();
    assert_eq!(robots_done(&runs, A), ITEMS, "each of A's robots ran once");
    assert_eq!(robots_done(&runs, B), 1);
}

/// One event matching many items is evaluated a part per pass; the worker is
/// stopped between parts and started again on the same database (losing its
/// in-memory progress): every item is still evaluated, and moved, exactly once.
#[tokio::test]
async fn a_fan_out_event_is_evaluated_once_per_item_across_restarts() {
    const ITEMS: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let options = || RuntimeOptions {
        batch: 16,
        ..RuntimeOptions::default()
    };
    let rt = runtime(dir.path(), options());
    let e = rt.engine();
    crm_core::testing::load(&e, A).await.unwrap();
    e.create_trigger(
        A,
        "deals",
        body::<TriggerBody>(
            json!({"stage_id": "presentation", "type": "incoming_call", "name": "Client called"}),
        ),
    )
    .await
    .unwrap();
    let mut items = Vec::new();
    for i in 0..ITEMS {
        items.push(item(&e, A, &format!("Called {i}"), Some(PHONE)).await);
    }
    rt.run_until_idle().await;
    let event_id = call_from(&e, PHONE).await;

    let moved = |e: Arc<Engine>, items: Vec<String>| async move {
        let mut n = 0;
        for id in &items {
            if e.get_item(A, id).await.unwrap().stage_id == "presentation" {
                n += 1;
            }
        }
        n
    };
    let pass = rt.run_pass().await;
    assert_eq!((pass.events, pass.event_parts), (0, 1), "{pass:?}");
    assert_eq!(moved(e.clone(), items.clone()).await, 16, "one part of 16");
    assert_eq!(rt.backlog().await.unwrap().events, 1, "not acked yet");
    drop((rt, e));

    // Restarted: the progress is gone; the items done are found done.
    let rt = runtime(dir.path(), options());
    for _ in 0..3 {
        rt.run_pass().await;
    }
    let e = rt.engine();
    let part = moved(e.clone(), items.clone()).await;
    assert!(16 < part && part < ITEMS, "{part}");
    drop((rt, e));

    let rt = runtime(dir.path(), options());
    rt.run_until_idle().await;
    let e = rt.engine();
    assert_eq!(moved(e.clone(), items.clone()).await, ITEMS);
    for id in &items {
        let it = e.get_item(A, id).await.unwrap();
        assert_eq!(it.visit, 2, "moved once: {id}");
        let evaluations = e
            .runs(A, id)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.event_id.as_deref() == Some(event_id.as_str()))
            .count();
        assert_eq!(evaluations, 1, "evaluated once: {id}");
    }
    let record = e.get_event(A, &event_id).await.unwrap();
    assert_eq!(record.status, "evaluated");
    // The record counts every item and lists the first ones (ids sort in
    // creation order here), never all of them.
    let mut expected = items.clone();
    expected.sort();
    expected.truncate(crm_core::model::EVENT_ITEM_SAMPLE);
    assert_eq!(record.item_count, ITEMS as u64);
    assert_eq!(record.item_ids, expected);
    assert_eq!(rt.backlog().await.unwrap().events, 0);
}

/// With the system clock, tenant A's webhook whose endpoint does not answer
/// (it would until its 30 s timeout) does not hold up tenant B: B's new
/// item is planned and its robot runs while A's call is still open; once
/// the endpoint answers, A's robot finishes, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_does_not_answer_holds_up_no_other_tenant() {
    use axum::routing::post;
    use tokio::sync::Semaphore;

    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::with_db(
        Db::open(dir.path()).unwrap(),
        RuntimeClock::new(ClockMode::System, None),
        RuntimeOptions::default(),
    );
    // The endpoint: counts the calls, answers each once the test lets it.
    let calls = Arc::new(Mutex::new(0usize));
    let answer = Arc::new(Semaphore::new(0));
    let app = axum::Router::new().route(
        "/hook",
        post({
            let (calls, answer) = (calls.clone(), answer.clone());
            move || async move {
                *calls.lock().unwrap() += 1;
                answer.acquire().await.unwrap().forget();
                "{}"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (list, _) = crm_core::webhook::guard::AllowList::parse(&format!("127.0.0.1:{port}"));
    crm_core::webhook::guard::install_allow_list(list);

    let e = rt.engine();
    crm_core::testing::load(&e, A).await.unwrap();
    crm_core::testing::load(&e, B).await.unwrap();
    robot(
        &e,
        A,
        json!({"stage_id": "new", "type": "call_webhook", "settings": {
            "url": format!("http://127.0.0.1:{port}/hook"), "timeout_seconds": 30}}),
    )
    .await;
    robot(&e, B, notify_boss()).await;
    let worker = rt.spawn_worker();
    let a_item = item(&e, A, "Waits on a slow endpoint", None).await;
    rt.notify();
    let (e, calls) = (&e, &calls);
    let robot_done = move |tenant: &'static str, item: String| async move {
        e.runs(tenant, &item)
            .await
            .unwrap()
            .iter()
            .any(|r| r.kind == RunKind::Robot && r.status == RunStatus::Done)
    };
    eventually("A's webhook called", move || async move {
        *calls.lock().unwrap() == 1
    })
    .await;

    let b_item = item(e, B, "Urgent", None).await;
    rt.notify();
    eventually("B's robot done while A's call is open", || {
        robot_done(B, b_item.clone())
    })
    .await;
    assert!(
        !robot_done(A, a_item.clone()).await,
        "A's call has not been answered"
    );

    answer.add_permits(1);
    eventually("A's robot done once answered", || {
        robot_done(A, a_item.clone())
    })
    .await;
    assert_eq!(*calls.lock().unwrap(), 1, "called once");
    worker.shutdown().await;
}

/// Wait (up to 10 s, polling) until `check` holds.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("not within 10 s: {what}");
}
