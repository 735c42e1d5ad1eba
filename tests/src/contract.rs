//! The contract suite: what every adapter of the storage, job and event ports
//! must do.
//!
//! Each check is an async function that takes the port as a trait object and a
//! `tenant` prefix; it derives its own tenants from that prefix
//! (`{tenant}-{check}`) and assumes nothing about what else is stored, so the
//! suite can run against a shared, non-empty backend (a LocalStack table or
//! queue) as long as each run passes a fresh prefix (see [`unique_tenant`]).
//! Checks panic with a message naming the rule that was broken.
//!
//! [`run_all_store`], [`run_all_jobs`] and [`run_all_events`] run every check
//! of one port; an adapter's test file only builds the adapter and calls them.
//!
//! The consumer side of the queues (`crm_core::work_source`: take due work,
//! ack, park) is checked by [`run_all_due_jobs`] and [`run_all_queued_events`]
//! on the in-process adapters only (memory, SQLite): on AWS, Lambda event
//! sources consume the queues. Those checks take from the whole queue, so they
//! assume that no one else uses it while they run and that nothing else in it
//! is due before their own work (each check acks what it stored).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;

use chrono::{DateTime, Duration, DurationRound, Utc};
use crm_core::model::QueuedEvent;
use crm_core::ports::{
    Cond, Doc, DocKey, DocStore, EventQueue, Job, JobQueue, Kind, MAX_TRANSACTION_WRITES,
    Scheduler, StoreError, Write,
};
use crm_core::work_source::{DueJobs, EventSeq, QueuedEvents};
use serde_json::{Value, json};

/// A boxed future, as returned by [`DrainJobs::take_due`] (the shape
/// `#[async_trait]` gives an async trait method).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Test-side access to the jobs an adapter would deliver: each adapter's test
/// file implements it (memory: `MemJobs::pop_due`; embedded: `due` + `ack`;
/// AWS: receive from the queue / fire the stored schedules).
pub trait DrainJobs: Send + Sync {
    /// Take every job (queued or scheduled) that is due at or before `now`,
    /// removing it so it is not delivered again. May return other tenants' jobs.
    fn take_due(&self, now: DateTime<Utc>) -> BoxFuture<'_, Vec<Job>>;
}

/// Test-side access to the events an adapter would deliver (memory and
/// SQLite: take + ack; AWS: receive from the events queue and delete).
pub trait DrainEvents: Send + Sync {
    /// Take every event delivered now, removing it so it is not delivered
    /// again. May return other tenants' events.
    fn take_all(&self) -> BoxFuture<'_, Vec<QueuedEvent>>;
}

/// [`DrainEvents`] through the consumer port: take every event, then ack it.
pub struct TakeAndAckEvents<'a>(pub &'a dyn QueuedEvents);

impl DrainEvents for TakeAndAckEvents<'_> {
    fn take_all(&self) -> BoxFuture<'_, Vec<QueuedEvent>> {
        Box::pin(async move {
            let mut out = Vec::new();
            loop {
                let batch = self.0.take(16).expect("take events");
                if batch.is_empty() {
                    return out;
                }
                for (seq, event) in batch {
                    self.0.ack(seq).expect("ack event");
                    out.push(event);
                }
            }
        })
    }
}

/// [`DrainJobs`] through the consumer port: take every due job, then ack it
/// (what the local runtime does).
pub struct TakeAndAck<'a>(pub &'a dyn DueJobs);

impl DrainJobs for TakeAndAck<'_> {
    fn take_due(&self, now: DateTime<Utc>) -> BoxFuture<'_, Vec<Job>> {
        Box::pin(async move {
            let mut out = Vec::new();
            loop {
                let batch = self.0.take_due(now, 16).expect("take_due");
                if batch.is_empty() {
                    return out;
                }
                self.0.ack_many(&batch).expect("ack_many");
                out.extend(batch);
            }
        })
    }
}

/// Test-side access to an adapter's storage, to put there what a consumer
/// cannot read (a row written by another version, or damaged). Only adapters
/// that store bodies as text have it (SQLite); in-memory queues hold typed
/// values.
pub trait Unreadable: Send + Sync {
    /// Store a job of `tenant` due at `due_at` whose body cannot be read.
    fn put_unreadable_job(&self, tenant: &str, due_at: DateTime<Utc>);
    /// Store an event whose body cannot be read, behind every stored event.
    fn put_unreadable_event(&self);
}

/// A tenant prefix unique to this process and call, for backends that keep
/// data between runs: `{prefix}-{time}-{pid}-{n}`.
pub fn unique_tenant(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let time = Utc::now().timestamp_micros();
    format!("{prefix}-{time:x}-{:x}-{n}", std::process::id())
}

/// Run every [`DocStore`] check.
pub async fn run_all_store(store: &dyn DocStore, tenant: &str) {
    let t = |check: &str| {
        eprintln!("contract: store {check}");
        format!("{tenant}-{check}")
    };
    store_round_trip(store, &t("round-trip")).await;
    store_put_moves_between_parents(store, &t("move-parent")).await;
    store_absent_conflicts_on_existing(store, &t("absent")).await;
    store_version_condition(store, &t("version")).await;
    store_failed_last_condition_writes_nothing(store, &t("atomic")).await;
    store_delete(store, &t("delete")).await;
    store_check(store, &t("check")).await;
    store_list(store, &t("list")).await;
    store_list_page(store, &t("list-page")).await;
    store_tenant_isolation(store, &t("tenants")).await;
    store_same_key_twice_is_invalid(store, &t("twice")).await;
    store_too_many_writes_is_invalid(store, &t("too-many")).await;
    store_empty_transaction_is_ok(store, &t("empty")).await;
    store_get_many(store, &t("get-many")).await;
    store_concurrent_optimistic_updates(store, &t("concurrent"), 8).await;
    store_list_only_kind(store, &t("list-only")).await;
    store_group_commit(store, &t("group")).await;
    store_parent_named_by_id(store, &t("named-parent")).await;
    store_list_prefix(store, &t("list-prefix")).await;
}

/// Run every [`JobQueue`] / [`Scheduler`] check.
pub async fn run_all_jobs(
    queue: &dyn JobQueue,
    sched: &dyn Scheduler,
    drain: &dyn DrainJobs,
    tenant: &str,
) {
    let t = |check: &str| {
        eprintln!("contract: jobs {check}");
        format!("{tenant}-{check}")
    };
    jobs_queued_delivered_once(queue, drain, &t("queued")).await;
    jobs_scheduled_delivered_at_due_time(sched, drain, &t("scheduled")).await;
    jobs_scheduled_twice_delivered_once(sched, drain, &t("twice")).await;
    jobs_rescheduled_after_delivery_delivered_again(sched, drain, &t("again")).await;
    jobs_cancelled_never_delivered(sched, drain, &t("cancel")).await;
    jobs_tenants_are_separate(sched, drain, &t("tenants")).await;
}

/// Run every [`DueJobs`] check (`unreadable`: the parking checks, for
/// adapters that can hold an unreadable job).
pub async fn run_all_due_jobs(
    queue: &dyn JobQueue,
    sched: &dyn Scheduler,
    due: &dyn DueJobs,
    unreadable: Option<&dyn Unreadable>,
    tenant: &str,
) {
    let t = |check: &str| {
        eprintln!("contract: due jobs {check}");
        format!("{tenant}-{check}")
    };
    due_jobs_taken_in_due_order(queue, sched, due, &t("order")).await;
    due_jobs_not_taken_before_due(queue, sched, due, &t("not-yet")).await;
    due_jobs_offered_again_until_acked(queue, due, &t("again")).await;
    due_jobs_ack_removes(queue, sched, due, &t("ack")).await;
    due_jobs_taken_is_no_longer_a_timer(sched, due, &t("taken")).await;
    due_jobs_fair_take_serves_tenants_in_turn(queue, due, &t("fair")).await;
    if let Some(u) = unreadable {
        due_jobs_unreadable_parked(queue, due, u, &t("parked")).await;
    }
}

/// Run every [`EventQueue`] (producer side) check.
pub async fn run_all_events(queue: &dyn EventQueue, drain: &dyn DrainEvents, tenant: &str) {
    eprintln!("contract: events delivered");
    events_sent_are_delivered_once(queue, drain, &format!("{tenant}-delivered")).await;
}

/// Run every [`EventQueue`] / [`QueuedEvents`] check (`unreadable`: the
/// parking check, for adapters that can hold an unreadable event).
pub async fn run_all_queued_events(
    queue: &dyn EventQueue,
    events: &dyn QueuedEvents,
    unreadable: Option<&dyn Unreadable>,
    tenant: &str,
) {
    let t = |check: &str| {
        eprintln!("contract: events {check}");
        format!("{tenant}-{check}")
    };
    events_taken_oldest_first(queue, events, &t("order")).await;
    events_offered_again_until_acked(queue, events, &t("again")).await;
    events_fair_take_serves_tenants_in_turn(queue, events, &t("fair")).await;
    events_ack_is_harmless_to_repeat(queue, events, &t("ack")).await;
    if let Some(u) = unreadable {
        events_unreadable_parked(queue, events, u, &t("parked")).await;
    }
}

// ---------------------------------------------------------------- helpers --

/// A document of `kind` in `tenant`.
fn doc(tenant: &str, kind: Kind, id: &str, version: u64, parent: Option<&str>, body: Value) -> Doc {
    Doc {
        key: DocKey::new(tenant, kind, id),
        version,
        parent: parent.map(str::to_owned),
        expires_at: None,
        body,
    }
}

/// An item document with a small body naming it.
fn item(tenant: &str, id: &str, version: u64, parent: Option<&str>) -> Doc {
    doc(
        tenant,
        Kind::Item,
        id,
        version,
        parent,
        json!({ "id": id, "v": version }),
    )
}

fn put(doc: Doc, cond: Cond) -> Write {
    Write::Put { doc, cond }
}

fn key(tenant: &str, id: &str) -> DocKey {
    DocKey::new(tenant, Kind::Item, id)
}

async fn get(store: &dyn DocStore, key: &DocKey) -> Option<Doc> {
    store
        .get(key)
        .await
        .unwrap_or_else(|e| panic!("get {key}: {e}"))
}

async fn ok(store: &dyn DocStore, writes: Vec<Write>, what: &str) {
    if let Err(e) = store.transact(writes).await {
        panic!("{what}: expected Ok, got {e:?}");
    }
}

async fn conflict(store: &dyn DocStore, writes: Vec<Write>, what: &str) {
    match store.transact(writes).await {
        Err(StoreError::Conflict { .. }) => {}
        other => panic!("{what}: expected Conflict, got {other:?}"),
    }
}

async fn invalid(store: &dyn DocStore, writes: Vec<Write>, what: &str) {
    match store.transact(writes).await {
        Err(StoreError::Invalid(_)) => {}
        other => panic!("{what}: expected Invalid, got {other:?}"),
    }
}

async fn list_ids(store: &dyn DocStore, tenant: &str, kind: Kind, parent: &str) -> Vec<String> {
    store
        .list(tenant, kind, parent)
        .await
        .unwrap_or_else(|e| panic!("list {tenant}/{kind}/{parent}: {e}"))
        .into_iter()
        .map(|d| d.key.id)
        .collect()
}

/// Poll every future to completion on the current task, interleaving them at
/// their await points (the trait objects are borrowed, so they cannot be
/// spawned).
async fn join_all<T>(mut futures: Vec<BoxFuture<'_, T>>) -> Vec<T> {
    let mut out: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in futures.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *slot = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter()
        .map(|v| v.expect("every future completed"))
        .collect()
}

// -------------------------------------------------------------- DocStore --

/// Body, version, parent and `expires_at` come back exactly as written.
pub async fn store_round_trip(store: &dyn DocStore, tenant: &str) {
    let mut full = doc(
        tenant,
        Kind::Item,
        "item-1",
        1,
        Some("pipe-1"),
        json!({
            "title": "Deal «Ω» 🚀",
            "amount": 1234.5,
            "ratio": 0.1,
            "count": 42,
            "negative": -7,
            "big": 9_007_199_254_740_993_i64,
            "ok": true,
            "none": null,
            "tags": ["a", "b", { "nested": [1, 2, 3] }],
            "empty": {},
            "quote": "line\n\"quoted\"\ttab\\",
        }),
    );
    full.expires_at = Some(4_102_444_800);
    let bare = doc(tenant, Kind::Run, "run-1", 1, None, json!("just a string"));
    assert_eq!(
        get(store, &full.key).await,
        None,
        "fresh tenant must be empty"
    );
    ok(
        store,
        vec![
            put(full.clone(), Cond::Absent),
            put(bare.clone(), Cond::Absent),
        ],
        "first put",
    )
    .await;
    assert_eq!(
        get(store, &full.key).await,
        Some(full.clone()),
        "round trip with parent and expiry"
    );
    assert_eq!(
        get(store, &bare.key).await,
        Some(bare.clone()),
        "round trip without parent"
    );

    let mut next = full.clone();
    next.version = 2;
    next.expires_at = None;
    next.body = json!({ "title": "renamed" });
    ok(store, vec![put(next.clone(), Cond::Version(1))], "update").await;
    assert_eq!(
        get(store, &full.key).await,
        Some(next),
        "update replaces the whole document"
    );
}

/// A put that changes a document's parent moves it from one list to the other.
pub async fn store_put_moves_between_parents(store: &dyn DocStore, tenant: &str) {
    let d = item(tenant, "a", 1, Some("p1"));
    ok(store, vec![put(d, Cond::Absent)], "put under p1").await;
    assert_eq!(list_ids(store, tenant, Kind::Item, "p1").await, ["a"]);

    ok(
        store,
        vec![put(item(tenant, "a", 2, Some("p2")), Cond::Version(1))],
        "move to p2",
    )
    .await;
    assert!(
        list_ids(store, tenant, Kind::Item, "p1").await.is_empty(),
        "left p1"
    );
    assert_eq!(
        list_ids(store, tenant, Kind::Item, "p2").await,
        ["a"],
        "joined p2"
    );

    ok(
        store,
        vec![put(item(tenant, "a", 3, None), Cond::Version(2))],
        "drop the parent",
    )
    .await;
    assert!(
        list_ids(store, tenant, Kind::Item, "p2").await.is_empty(),
        "left p2"
    );
    assert_eq!(
        get(store, &key(tenant, "a")).await.map(|d| d.version),
        Some(3)
    );
}

/// `Cond::Absent` on an existing document fails the transaction and writes nothing.
pub async fn store_absent_conflicts_on_existing(store: &dyn DocStore, tenant: &str) {
    let a = item(tenant, "a", 1, Some("p"));
    ok(store, vec![put(a.clone(), Cond::Absent)], "create").await;
    conflict(
        store,
        vec![put(item(tenant, "a", 2, Some("p")), Cond::Absent)],
        "create again",
    )
    .await;
    assert_eq!(
        get(store, &a.key).await,
        Some(a.clone()),
        "existing doc unchanged"
    );

    conflict(
        store,
        vec![
            put(item(tenant, "b", 1, Some("p")), Cond::Absent),
            put(item(tenant, "a", 2, Some("p")), Cond::Absent),
        ],
        "create two, one exists",
    )
    .await;
    assert_eq!(
        get(store, &key(tenant, "b")).await,
        None,
        "the other write was not applied"
    );
    assert_eq!(list_ids(store, tenant, Kind::Item, "p").await, ["a"]);
}

/// `Cond::Version` holds only for exactly the stored version.
pub async fn store_version_condition(store: &dyn DocStore, tenant: &str) {
    ok(
        store,
        vec![put(item(tenant, "a", 1, None), Cond::Absent)],
        "create",
    )
    .await;
    ok(
        store,
        vec![put(item(tenant, "a", 2, None), Cond::Version(1))],
        "matching version",
    )
    .await;
    conflict(
        store,
        vec![put(item(tenant, "a", 3, None), Cond::Version(1))],
        "stale version",
    )
    .await;
    conflict(
        store,
        vec![put(item(tenant, "a", 3, None), Cond::Version(3))],
        "future version",
    )
    .await;
    assert_eq!(
        get(store, &key(tenant, "a")).await,
        Some(item(tenant, "a", 2, None))
    );

    conflict(
        store,
        vec![put(item(tenant, "m", 2, None), Cond::Version(1))],
        "version on missing",
    )
    .await;
    assert_eq!(
        get(store, &key(tenant, "m")).await,
        None,
        "missing stays missing"
    );

    ok(
        store,
        vec![put(item(tenant, "a", 7, None), Cond::Any)],
        "unconditional",
    )
    .await;
    assert_eq!(
        get(store, &key(tenant, "a")).await.map(|d| d.version),
        Some(7)
    );
}

/// A transaction whose last condition fails writes nothing at all.
pub async fn store_failed_last_condition_writes_nothing(store: &dyn DocStore, tenant: &str) {
    let x = item(tenant, "x", 1, Some("p"));
    let y = item(tenant, "y", 1, Some("p"));
    ok(
        store,
        vec![put(x.clone(), Cond::Absent), put(y.clone(), Cond::Absent)],
        "setup",
    )
    .await;

    let mut writes = vec![
        put(item(tenant, "new-1", 1, Some("p")), Cond::Absent),
        put(item(tenant, "new-2", 1, Some("p")), Cond::Any),
        put(item(tenant, "x", 2, Some("p")), Cond::Version(1)),
        Write::Delete {
            key: y.key.clone(),
            parent: Some("p".into()),
            cond: Cond::Any,
        },
    ];
    writes.push(put(item(tenant, "z", 1, Some("p")), Cond::Version(99)));
    conflict(store, writes, "last write's condition fails").await;

    assert_eq!(
        get(store, &key(tenant, "new-1")).await,
        None,
        "new-1 not written"
    );
    assert_eq!(
        get(store, &key(tenant, "new-2")).await,
        None,
        "new-2 not written"
    );
    assert_eq!(get(store, &x.key).await, Some(x), "x not updated");
    assert_eq!(get(store, &y.key).await, Some(y), "y not deleted");
    assert_eq!(list_ids(store, tenant, Kind::Item, "p").await, ["x", "y"]);
}

/// Delete with and without a condition.
/// A list-only kind (an index, [`Kind::list_only`]): written with
/// `Cond::Any` alone or beside other writes, listed under its parent with
/// its body, rewritten in place, deleted by parent (twice is harmless), and
/// taken with the other writes of a transaction that fails.
pub async fn store_list_only_kind(store: &dyn DocStore, tenant: &str) {
    assert!(Kind::PendingRun.list_only());
    let entry = |id: &str, v: u64| {
        doc(
            tenant,
            Kind::PendingRun,
            id,
            v,
            Some("robot-1"),
            json!({ "run_id": id, "v": v }),
        )
    };
    let del = |id: &str| Write::Delete {
        key: DocKey::new(tenant, Kind::PendingRun, id),
        parent: Some("robot-1".to_owned()),
        cond: Cond::Any,
    };
    ok(store, vec![put(entry("r1", 1), Cond::Any)], "alone").await;
    ok(
        store,
        vec![
            put(entry("r2", 1), Cond::Any),
            put(item(tenant, "i", 1, None), Cond::Absent),
        ],
        "beside a write",
    )
    .await;
    ok(store, vec![put(entry("r1", 2), Cond::Any)], "rewritten").await;
    let listed = store
        .list(tenant, Kind::PendingRun, "robot-1")
        .await
        .unwrap();
    let got: Vec<(String, Value)> = listed.into_iter().map(|d| (d.key.id, d.body)).collect();
    assert_eq!(
        got,
        [
            ("r1".to_owned(), json!({"run_id": "r1", "v": 2})),
            ("r2".to_owned(), json!({"run_id": "r2", "v": 1})),
        ]
    );
    // A failed condition beside it: the entry's delete is not applied.
    conflict(
        store,
        vec![del("r1"), put(item(tenant, "i", 1, None), Cond::Absent)],
        "delete beside a failed condition",
    )
    .await;
    assert_eq!(
        list_ids(store, tenant, Kind::PendingRun, "robot-1").await,
        ["r1", "r2"]
    );
    ok(
        store,
        vec![del("r1"), put(item(tenant, "i", 2, None), Cond::Version(1))],
        "delete with a write",
    )
    .await;
    ok(store, vec![del("r1")], "delete again").await;
    ok(store, vec![del("r2")], "delete alone").await;
    assert!(
        list_ids(store, tenant, Kind::PendingRun, "robot-1")
            .await
            .is_empty()
    );
}

/// A document whose id names its parent ([`Kind::parent_of_id`]: a run
/// `{item}:{visit}:{robot}`) behaves as any other: read by key alone (one
/// by one and in a batch), listed under its parent, `Absent`/`Version`
/// conditions and checks hold or conflict, a failed condition beside it
/// writes nothing, deleted with and without a condition. Written or deleted
/// with another parent than the one its id names: `Invalid`, nothing
/// written.
pub async fn store_parent_named_by_id(store: &dyn DocStore, tenant: &str) {
    let (a, b) = ("item-1:1:robot-a", "item-1:evt:evt-7");
    assert_eq!(Kind::Run.parent_of_id(a), Some("item-1"));
    let run = |id: &str, v: u64| {
        doc(
            tenant,
            Kind::Run,
            id,
            v,
            Some("item-1"),
            json!({ "id": id, "v": v }),
        )
    };
    let rkey = |id: &str| DocKey::new(tenant, Kind::Run, id);
    ok(store, vec![put(run(a, 1), Cond::Absent)], "alone").await;
    ok(
        store,
        vec![
            put(run(b, 1), Cond::Absent),
            put(item(tenant, "i", 1, None), Cond::Absent),
        ],
        "beside a write",
    )
    .await;
    assert_eq!(get(store, &rkey(a)).await, Some(run(a, 1)));
    assert_eq!(
        store
            .get_many(&[rkey(b), rkey("item-1:2:robot-a"), rkey(a), key(tenant, "i")])
            .await
            .expect("get_many"),
        vec![
            Some(run(b, 1)),
            None,
            Some(run(a, 1)),
            Some(item(tenant, "i", 1, None))
        ]
    );
    assert_eq!(list_ids(store, tenant, Kind::Run, "item-1").await, [a, b]);
    conflict(
        store,
        vec![put(run(a, 9), Cond::Absent)],
        "absent on existing",
    )
    .await;
    conflict(
        store,
        vec![put(run(a, 3), Cond::Version(2))],
        "stale version",
    )
    .await;
    conflict(
        store,
        vec![
            put(run(a, 2), Cond::Version(1)),
            put(item(tenant, "i", 9, None), Cond::Absent),
        ],
        "beside a failed condition",
    )
    .await;
    assert_eq!(get(store, &rkey(a)).await, Some(run(a, 1)), "not written");
    ok(store, vec![put(run(a, 2), Cond::Version(1))], "updated").await;
    ok(
        store,
        vec![
            put(run(b, 2), Cond::Version(1)),
            put(item(tenant, "i", 2, None), Cond::Version(1)),
        ],
        "updated in a transaction",
    )
    .await;
    assert_eq!(get(store, &rkey(a)).await, Some(run(a, 2)));
    assert_eq!(get(store, &rkey(b)).await, Some(run(b, 2)));
    let check = |id: &str, cond| Write::Check {
        key: rkey(id),
        cond,
    };
    ok(
        store,
        vec![
            check(a, Cond::Version(2)),
            put(item(tenant, "j", 1, None), Cond::Absent),
        ],
        "check holds",
    )
    .await;
    conflict(
        store,
        vec![
            check(a, Cond::Version(1)),
            put(item(tenant, "k", 1, None), Cond::Absent),
        ],
        "check fails",
    )
    .await;
    assert_eq!(get(store, &key(tenant, "k")).await, None, "k not written");
    // Another parent than the one the id names.
    invalid(
        store,
        vec![put(
            doc(
                tenant,
                Kind::Run,
                "item-2:1:robot-a",
                1,
                Some("item-1"),
                json!({}),
            ),
            Cond::Any,
        )],
        "put under another parent",
    )
    .await;
    invalid(
        store,
        vec![put(
            doc(tenant, Kind::Run, "item-2:1:robot-a", 1, None, json!({})),
            Cond::Any,
        )],
        "put without a parent",
    )
    .await;
    let del = |id: &str, parent: Option<&str>, cond| Write::Delete {
        key: rkey(id),
        parent: parent.map(str::to_owned),
        cond,
    };
    invalid(
        store,
        vec![del(a, Some("item-2"), Cond::Any)],
        "delete under another parent",
    )
    .await;
    assert_eq!(get(store, &rkey(a)).await, Some(run(a, 2)), "still there");
    conflict(
        store,
        vec![del(a, Some("item-1"), Cond::Version(1))],
        "stale delete",
    )
    .await;
    ok(
        store,
        vec![del(a, Some("item-1"), Cond::Version(2))],
        "delete",
    )
    .await;
    ok(store, vec![del(b, Some("item-1"), Cond::Any)], "delete any").await;
    ok(
        store,
        vec![del(b, Some("item-1"), Cond::Any)],
        "delete again",
    )
    .await;
    assert_eq!(get(store, &rkey(a)).await, None);
    assert_eq!(get(store, &rkey(b)).await, None);
    assert!(
        list_ids(store, tenant, Kind::Run, "item-1")
            .await
            .is_empty()
    );
    ok(store, vec![put(run(a, 1), Cond::Absent)], "made again").await;
    assert_eq!(get(store, &rkey(a)).await, Some(run(a, 1)));
}

pub async fn store_delete(store: &dyn DocStore, tenant: &str) {
    ok(
        store,
        vec![
            put(item(tenant, "a", 1, Some("p")), Cond::Absent),
            put(item(tenant, "b", 1, Some("p")), Cond::Absent),
            put(item(tenant, "c", 1, None), Cond::Absent),
        ],
        "setup",
    )
    .await;
    let del = |id: &str, parent: Option<&str>, cond| Write::Delete {
        key: key(tenant, id),
        parent: parent.map(str::to_owned),
        cond,
    };

    ok(
        store,
        vec![del("a", Some("p"), Cond::Any)],
        "unconditional delete",
    )
    .await;
    assert_eq!(get(store, &key(tenant, "a")).await, None);
    assert_eq!(
        list_ids(store, tenant, Kind::Item, "p").await,
        ["b"],
        "gone from its list"
    );

    conflict(
        store,
        vec![del("b", Some("p"), Cond::Version(2))],
        "delete at wrong version",
    )
    .await;
    assert_eq!(
        get(store, &key(tenant, "b")).await,
        Some(item(tenant, "b", 1, Some("p")))
    );
    ok(
        store,
        vec![del("b", Some("p"), Cond::Version(1))],
        "delete at right version",
    )
    .await;
    assert_eq!(get(store, &key(tenant, "b")).await, None);
    assert!(list_ids(store, tenant, Kind::Item, "p").await.is_empty());

    ok(
        store,
        vec![del("c", None, Cond::Version(1))],
        "delete without parent",
    )
    .await;
    assert_eq!(get(store, &key(tenant, "c")).await, None);

    ok(
        store,
        vec![del("a", Some("p"), Cond::Any)],
        "unconditional delete of a missing doc",
    )
    .await;
    conflict(
        store,
        vec![del("a", Some("p"), Cond::Version(1))],
        "versioned delete of a missing doc",
    )
    .await;
}

/// `Check` writes nothing, but its failed condition fails the transaction.
pub async fn store_check(store: &dyn DocStore, tenant: &str) {
    let a = item(tenant, "a", 1, Some("p"));
    ok(store, vec![put(a.clone(), Cond::Absent)], "setup").await;
    let check = |id: &str, cond| Write::Check {
        key: key(tenant, id),
        cond,
    };

    ok(
        store,
        vec![
            check("a", Cond::Version(1)),
            put(item(tenant, "b", 1, Some("p")), Cond::Absent),
        ],
        "holding check",
    )
    .await;
    assert_eq!(
        get(store, &a.key).await,
        Some(a.clone()),
        "checked doc unchanged"
    );
    assert!(
        get(store, &key(tenant, "b")).await.is_some(),
        "other write applied"
    );

    conflict(
        store,
        vec![
            put(item(tenant, "c", 1, Some("p")), Cond::Absent),
            check("a", Cond::Version(2)),
        ],
        "failing version check",
    )
    .await;
    assert_eq!(get(store, &key(tenant, "c")).await, None, "nothing written");

    conflict(
        store,
        vec![check("a", Cond::Absent)],
        "absent check on existing",
    )
    .await;
    ok(
        store,
        vec![check("ghost", Cond::Absent)],
        "absent check on missing",
    )
    .await;
    assert_eq!(
        get(store, &key(tenant, "ghost")).await,
        None,
        "a check creates nothing"
    );
    ok(store, vec![check("a", Cond::Any)], "unconditional check").await;
    assert_eq!(get(store, &a.key).await, Some(a), "still unchanged");
    assert_eq!(list_ids(store, tenant, Kind::Item, "p").await, ["a", "b"]);
}

/// `list` returns exactly the (tenant, kind, parent) matches, ordered by id in
/// byte order, and sees writes at once.
pub async fn store_list(store: &dyn DocStore, tenant: &str) {
    let other_tenant = format!("{tenant}-other");
    // Byte order differs from numeric, case-insensitive and locale orders.
    let ids = ["b", "B", "a", "a_1", "a-2", "A", "10", "9", "é", "z"];
    let mut writes: Vec<Write> = ids
        .iter()
        .map(|id| put(item(tenant, id, 1, Some("p1")), Cond::Absent))
        .collect();
    writes.push(put(item(tenant, "in-p2", 1, Some("p2")), Cond::Absent));
    writes.push(put(item(tenant, "no-parent", 1, None), Cond::Absent));
    writes.push(put(
        doc(tenant, Kind::Run, "run-kind", 1, Some("p1"), json!({})),
        Cond::Absent,
    ));
    ok(store, writes, "setup").await;
    ok(
        store,
        vec![put(item(&other_tenant, "c", 1, Some("p1")), Cond::Absent)],
        "other tenant",
    )
    .await;

    let listed = store.list(tenant, Kind::Item, "p1").await.expect("list");
    let mut expected: Vec<&str> = ids.to_vec();
    expected.sort_unstable();
    assert_eq!(
        expected,
        ["10", "9", "A", "B", "a", "a-2", "a_1", "b", "z", "é"]
    );
    let got: Vec<&str> = listed.iter().map(|d| d.key.id.as_str()).collect();
    assert_eq!(
        got, expected,
        "only (tenant, kind, parent) matches, in byte order"
    );
    for d in &listed {
        assert_eq!(
            d,
            &item(tenant, &d.key.id, 1, Some("p1")),
            "listed docs are whole"
        );
    }
    assert_eq!(list_ids(store, tenant, Kind::Item, "p2").await, ["in-p2"]);
    assert_eq!(list_ids(store, tenant, Kind::Run, "p1").await, ["run-kind"]);
    assert!(
        list_ids(store, tenant, Kind::Item, "no-such-parent")
            .await
            .is_empty()
    );
    assert!(list_ids(store, tenant, Kind::Task, "p1").await.is_empty());

    // Read-your-writes.
    ok(
        store,
        vec![put(item(tenant, "m", 1, Some("p1")), Cond::Absent)],
        "add m",
    )
    .await;
    assert!(
        list_ids(store, tenant, Kind::Item, "p1")
            .await
            .contains(&"m".to_owned()),
        "m listed at once"
    );
    let gone = Write::Delete {
        key: key(tenant, "b"),
        parent: Some("p1".into()),
        cond: Cond::Version(1),
    };
    ok(store, vec![gone], "delete b").await;
    assert!(
        !list_ids(store, tenant, Kind::Item, "p1")
            .await
            .contains(&"b".to_owned()),
        "b unlisted at once"
    );
    ok(
        store,
        vec![put(item(tenant, "z", 2, Some("p1")), Cond::Version(1))],
        "update z",
    )
    .await;
    let z = store
        .list(tenant, Kind::Item, "p1")
        .await
        .expect("list")
        .into_iter()
        .find(|d| d.key.id == "z");
    assert_eq!(
        z.map(|d| d.version),
        Some(2),
        "list sees the update at once"
    );
}

/// `list_page` walks a list in byte order, a page at a time: each page
/// starts after the id given, holds at most `limit` documents, and the pages
/// together are the whole list (the kanban's cursor relies on it).
pub async fn store_list_page(store: &dyn DocStore, tenant: &str) {
    let ids = ["b", "B", "a", "a_1", "a-2", "A", "10", "9", "é", "z"];
    let mut writes: Vec<Write> = ids
        .iter()
        .map(|id| put(item(tenant, id, 1, Some("p1")), Cond::Absent))
        .collect();
    writes.push(put(item(tenant, "c-in-p2", 1, Some("p2")), Cond::Absent));
    ok(store, writes, "setup").await;

    let mut pages: Vec<Vec<String>> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .list_page(tenant, Kind::Item, "p1", after.as_deref(), 4)
            .await
            .expect("list_page");
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 4, "a page holds at most `limit` documents");
        after = page.last().map(|d| d.key.id.clone());
        pages.push(page.into_iter().map(|d| d.key.id).collect());
    }
    assert_eq!(
        pages,
        [
            vec!["10", "9", "A", "B"],
            vec!["a", "a-2", "a_1", "b"],
            vec!["z", "é"],
        ],
        "pages of 4 in byte order, nothing repeated or skipped"
    );
    let from_middle = store
        .list_page(tenant, Kind::Item, "p1", Some("a-"), 2)
        .await
        .expect("list_page");
    let got: Vec<&str> = from_middle.iter().map(|d| d.key.id.as_str()).collect();
    assert_eq!(got, ["a-2", "a_1"], "starts after an id that is not stored");
}

/// The same kind and id in two tenants are two documents; nothing crosses.
pub async fn store_tenant_isolation(store: &dyn DocStore, tenant: &str) {
    // One tenant name is a prefix of the other, to catch careless key joins.
    let ta = format!("{tenant}-a");
    let tb = format!("{tenant}-a-b");
    let a = doc(
        &ta,
        Kind::Item,
        "same",
        1,
        Some("p"),
        json!({ "owner": "a" }),
    );
    let b = doc(
        &tb,
        Kind::Item,
        "same",
        1,
        Some("p"),
        json!({ "owner": "b" }),
    );
    ok(store, vec![put(a.clone(), Cond::Absent)], "create in a").await;
    ok(
        store,
        vec![put(b.clone(), Cond::Absent)],
        "create the same id in b",
    )
    .await;
    assert_eq!(get(store, &a.key).await, Some(a.clone()));
    assert_eq!(get(store, &b.key).await, Some(b.clone()));
    assert_eq!(
        store.list(&ta, Kind::Item, "p").await.expect("list a"),
        vec![a.clone()]
    );
    assert_eq!(
        store.list(&tb, Kind::Item, "p").await.expect("list b"),
        vec![b.clone()]
    );

    ok(
        store,
        vec![put(
            doc(&ta, Kind::Item, "only-a", 1, Some("p"), json!({})),
            Cond::Absent,
        )],
        "a only",
    )
    .await;
    assert_eq!(
        list_ids(store, &tb, Kind::Item, "p").await,
        ["same"],
        "b does not see a's new doc"
    );
    assert_eq!(
        get(store, &DocKey::new(tb.as_str(), Kind::Item, "only-a")).await,
        None
    );

    let del = Write::Delete {
        key: a.key.clone(),
        parent: Some("p".into()),
        cond: Cond::Version(1),
    };
    ok(store, vec![del], "delete in a").await;
    assert_eq!(
        get(store, &b.key).await,
        Some(b),
        "b untouched by a's delete"
    );
}

/// Two writes on one key in one transaction are `Invalid`, and nothing is written.
pub async fn store_same_key_twice_is_invalid(store: &dyn DocStore, tenant: &str) {
    let fresh = |id: &str| put(item(tenant, id, 1, Some("p")), Cond::Absent);
    let other = || put(item(tenant, "other", 1, Some("p")), Cond::Absent);
    invalid(store, vec![other(), fresh("a"), fresh("a")], "put twice").await;
    invalid(
        store,
        vec![
            other(),
            fresh("a"),
            Write::Delete {
                key: key(tenant, "a"),
                parent: Some("p".into()),
                cond: Cond::Any,
            },
        ],
        "put and delete",
    )
    .await;
    invalid(
        store,
        vec![
            Write::Check {
                key: key(tenant, "a"),
                cond: Cond::Absent,
            },
            fresh("a"),
            other(),
        ],
        "check and put",
    )
    .await;
    assert_eq!(get(store, &key(tenant, "a")).await, None, "nothing written");
    assert_eq!(
        get(store, &key(tenant, "other")).await,
        None,
        "nothing written"
    );

    // Same id under another kind or tenant is another key.
    let twin_kind = doc(tenant, Kind::Task, "a", 1, None, json!({}));
    let twin_tenant = item(&format!("{tenant}-twin"), "a", 1, None);
    ok(
        store,
        vec![
            fresh("a"),
            put(twin_kind, Cond::Absent),
            put(twin_tenant, Cond::Absent),
        ],
        "distinct keys",
    )
    .await;
}

/// More than [`MAX_TRANSACTION_WRITES`] writes are `Invalid`; exactly that many are fine.
pub async fn store_too_many_writes_is_invalid(store: &dyn DocStore, tenant: &str) {
    let writes = |n: usize, prefix: &str| -> Vec<Write> {
        (0..n)
            .map(|i| {
                put(
                    item(tenant, &format!("{prefix}-{i:03}"), 1, Some(prefix)),
                    Cond::Absent,
                )
            })
            .collect()
    };
    invalid(
        store,
        writes(MAX_TRANSACTION_WRITES + 1, "over"),
        "one write too many",
    )
    .await;
    assert_eq!(
        get(store, &key(tenant, "over-000")).await,
        None,
        "nothing written"
    );
    assert!(
        list_ids(store, tenant, Kind::Item, "over").await.is_empty(),
        "nothing written"
    );

    ok(store, writes(MAX_TRANSACTION_WRITES, "max"), "the maximum").await;
    let listed = list_ids(store, tenant, Kind::Item, "max").await;
    assert_eq!(listed.len(), MAX_TRANSACTION_WRITES, "all written");
    assert_eq!(listed.first().map(String::as_str), Some("max-000"));
}

/// A group commit (`transact_group`) takes up to `group_limit()` writes (at
/// least a transaction's), all or nothing: a failed condition anywhere
/// writes none of them; one write over the limit is `Invalid`.
pub async fn store_group_commit(store: &dyn DocStore, tenant: &str) {
    let limit = store.group_limit();
    assert!(limit >= MAX_TRANSACTION_WRITES, "group limit {limit}");
    // Enough to show the group is one commit, few enough for a shared table.
    let n = limit.min(2 * MAX_TRANSACTION_WRITES + 7);
    let writes = |n: usize, prefix: &str| -> Vec<Write> {
        (0..n)
            .map(|i| {
                put(
                    item(tenant, &format!("{prefix}-{i:04}"), 1, Some(prefix)),
                    Cond::Absent,
                )
            })
            .collect()
    };
    // The last write's condition fails: nothing of the group is written.
    ok(
        store,
        vec![put(item(tenant, "taken", 1, None), Cond::Absent)],
        "setup",
    )
    .await;
    let mut failing = writes(n - 1, "fail");
    failing.push(put(item(tenant, "taken", 2, None), Cond::Version(7)));
    match store.transact_group(failing).await {
        Err(StoreError::Conflict { .. }) => {}
        other => panic!("a group with a failed condition: expected Conflict, got {other:?}"),
    }
    assert!(
        list_ids(store, tenant, Kind::Item, "fail").await.is_empty(),
        "a group with a failed condition writes nothing"
    );
    if let Err(e) = store.transact_group(writes(n, "all")).await {
        panic!("a group of {n} writes: expected Ok, got {e:?}");
    }
    assert_eq!(list_ids(store, tenant, Kind::Item, "all").await.len(), n);
    if limit < 10_000 {
        match store.transact_group(writes(limit + 1, "over")).await {
            Err(StoreError::Invalid(_)) => {}
            other => panic!("one write over the group limit: expected Invalid, got {other:?}"),
        }
        assert!(list_ids(store, tenant, Kind::Item, "over").await.is_empty());
    }
}

/// An empty transaction succeeds and does nothing.
pub async fn store_empty_transaction_is_ok(store: &dyn DocStore, tenant: &str) {
    ok(store, Vec::new(), "empty transaction").await;
    assert!(list_ids(store, tenant, Kind::Item, "p").await.is_empty());
}

/// `get_many` answers in the order asked, `None` for missing documents.
pub async fn store_get_many(store: &dyn DocStore, tenant: &str) {
    let a = item(tenant, "a", 1, None);
    let b = item(tenant, "b", 3, Some("p"));
    let r = doc(tenant, Kind::Run, "a", 1, None, json!({ "run": true }));
    ok(
        store,
        vec![
            put(a.clone(), Cond::Absent),
            put(b.clone(), Cond::Absent),
            put(r.clone(), Cond::Absent),
        ],
        "setup",
    )
    .await;

    let keys = [
        b.key.clone(),
        key(tenant, "missing"),
        a.key.clone(),
        r.key.clone(),
        DocKey::new(format!("{tenant}-x"), Kind::Item, "a"),
    ];
    let got = store.get_many(&keys).await.expect("get_many");
    assert_eq!(got, vec![Some(b), None, Some(a), Some(r), None]);
    // Settled reads find what is there and report absent what is not.
    let settled = store
        .get_many_settled(&keys)
        .await
        .expect("get_many_settled");
    assert_eq!(settled, got, "settled reads");
    assert!(
        store
            .get_many(&[])
            .await
            .expect("get_many of nothing")
            .is_empty()
    );
}

/// `list_prefix`: the documents of a list whose id extends a prefix, in id
/// order, across pages; nothing of other lists, kinds or tenants.
/// `count_prefix` counts them (at most its `max`).
pub async fn store_list_prefix(store: &dyn DocStore, tenant: &str) {
    let mut ids: Vec<String> = (0..40).map(|i| format!("i:1:r{i:02}")).collect();
    ids.extend(["i:1", "i:10:a", "i:2:a", "i:evt:x", "i:0:z"].map(String::from));
    for chunk in ids.chunks(20) {
        let writes = chunk
            .iter()
            .map(|id| {
                let d = doc(tenant, Kind::Run, id, 1, Some("i"), json!({ "id": id }));
                put(d, Cond::Absent)
            })
            .collect();
        ok(store, writes, "setup").await;
    }
    let other = [
        doc(tenant, Kind::Run, "j:1:a", 1, Some("j"), json!({})),
        doc(tenant, Kind::Timeline, "i:1:t", 1, Some("i"), json!({})),
        doc(
            &format!("{tenant}-x"),
            Kind::Run,
            "i:1:x",
            1,
            Some("i"),
            json!({}),
        ),
    ];
    ok(
        store,
        other.into_iter().map(|d| put(d, Cond::Absent)).collect(),
        "others",
    )
    .await;
    let listed = |prefix: &'static str| async move {
        store
            .list_prefix(tenant, Kind::Run, "i", prefix)
            .await
            .expect("list_prefix")
            .into_iter()
            .map(|d| d.key.id)
            .collect::<Vec<_>>()
    };
    let want: Vec<String> = (0..40).map(|i| format!("i:1:r{i:02}")).collect();
    assert_eq!(listed("i:1:").await, want, "visit 1 across pages");
    assert_eq!(listed("i:2:").await, ["i:2:a"]);
    assert_eq!(listed("i:10:").await, ["i:10:a"]);
    assert!(listed("i:3:").await.is_empty(), "an empty prefix range");
    let counted = |prefix: &'static str, max: usize| async move {
        store
            .count_prefix(tenant, Kind::Run, "i", prefix, max)
            .await
            .expect("count_prefix")
    };
    assert_eq!(counted("i:1:", 100).await, 40, "what list_prefix returns");
    assert_eq!(counted("i:1:", 25).await, 25, "at most max");
    assert_eq!(
        counted("i:1", 100).await,
        41,
        "i:1: and i:10:a, not i:1 itself"
    );
    assert_eq!(counted("i:2:", 100).await, 1);
    assert_eq!(counted("i:3:", 100).await, 0, "an empty prefix range");
    assert_eq!(counted("", 100).await, 45, "the whole list, nothing else");
}

/// `tasks` tasks each add one to a counter with read + `Cond::Version` put,
/// retrying on `Conflict`: no update is lost.
pub async fn store_concurrent_optimistic_updates(store: &dyn DocStore, tenant: &str, tasks: u64) {
    let k = DocKey::new(tenant, Kind::Counter, "counter");
    let start = doc(
        tenant,
        Kind::Counter,
        "counter",
        1,
        None,
        json!({ "n": 0, "by": [] }),
    );
    ok(store, vec![put(start, Cond::Absent)], "create counter").await;

    let conflicts = AtomicU64::new(0);
    let updates: Vec<BoxFuture<'_, ()>> = (0..tasks)
        .map(|task| {
            let (k, conflicts) = (&k, &conflicts);
            Box::pin(async move {
                loop {
                    let mut d = get(store, k).await.expect("counter exists");
                    // Let the other tasks read the same version.
                    tokio::task::yield_now().await;
                    let cond = Cond::Version(d.version);
                    d.version += 1;
                    d.body["n"] = json!(d.body["n"].as_u64().expect("n") + 1);
                    d.body["by"].as_array_mut().expect("by").push(json!(task));
                    match store.transact(vec![put(d, cond)]).await {
                        Ok(()) => return,
                        Err(StoreError::Conflict { .. }) => {
                            conflicts.fetch_add(1, Ordering::Relaxed);
                            tokio::task::yield_now().await;
                        }
                        Err(e) => panic!("task {task}: {e:?}"),
                    }
                }
            }) as BoxFuture<'_, ()>
        })
        .collect();
    join_all(updates).await;

    let d = get(store, &k).await.expect("counter exists");
    assert_eq!(d.version, tasks + 1, "one version per update");
    assert_eq!(d.body["n"], json!(tasks), "no update lost");
    let mut by: Vec<u64> = d.body["by"]
        .as_array()
        .expect("by")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    by.sort_unstable();
    assert_eq!(
        by,
        (0..tasks).collect::<Vec<_>>(),
        "every task's update is there once"
    );
    if tasks > 1 {
        assert!(
            conflicts.load(Ordering::Relaxed) > 0,
            "the tasks really contended"
        );
    }
}

// ------------------------------------------------------ JobQueue/Scheduler --

/// A base time for job checks: a whole second, an hour from now (timers in the
/// past may be refused by real schedulers).
fn base_time() -> DateTime<Utc> {
    (Utc::now() + Duration::hours(1))
        .duration_trunc(Duration::seconds(1))
        .expect("truncate to seconds")
}

fn job(tenant: &str, robot: &str, due_at: DateTime<Utc>) -> Job {
    Job {
        tenant: tenant.to_owned(),
        run_id: format!("item-1:1:{robot}"),
        item_id: "item-1".to_owned(),
        visit: 1,
        due_at,
        then: Vec::new(),
    }
}

/// Take the due jobs of `tenants` (others' jobs are dropped: another run's).
async fn take(drain: &dyn DrainJobs, now: DateTime<Utc>, tenants: &[&str]) -> Vec<Job> {
    let mut jobs: Vec<Job> = drain
        .take_due(now)
        .await
        .into_iter()
        .filter(|j| tenants.contains(&j.tenant.as_str()))
        .collect();
    jobs.sort_by(|a, b| (&a.tenant, &a.run_id).cmp(&(&b.tenant, &b.run_id)));
    jobs
}

/// Each job of a batch sent to the queue is delivered once.
pub async fn jobs_queued_delivered_once(queue: &dyn JobQueue, drain: &dyn DrainJobs, tenant: &str) {
    let now = base_time();
    let batch = vec![
        job(tenant, "robot-a", now),
        job(tenant, "robot-b", now),
        job(tenant, "robot-c", now - Duration::hours(1)),
    ];
    queue.send(batch.clone()).await.expect("send");
    assert_eq!(
        take(drain, now, &[tenant]).await,
        batch,
        "each queued job delivered"
    );
    assert!(
        take(drain, now, &[tenant]).await.is_empty(),
        "and only once"
    );
    queue
        .send(Vec::new())
        .await
        .expect("sending nothing is fine");
}

/// A timer is not delivered before its due time, is delivered at it, once.
pub async fn jobs_scheduled_delivered_at_due_time(
    sched: &dyn Scheduler,
    drain: &dyn DrainJobs,
    tenant: &str,
) {
    let due = base_time() + Duration::minutes(10);
    let j = job(tenant, "robot-later", due);
    sched.schedule(j.clone()).await.expect("schedule");
    assert!(
        take(drain, due - Duration::seconds(1), &[tenant])
            .await
            .is_empty(),
        "not before its time"
    );
    assert_eq!(
        take(drain, due, &[tenant]).await,
        vec![j],
        "delivered at its time"
    );
    assert!(
        take(drain, due + Duration::days(1), &[tenant])
            .await
            .is_empty(),
        "only once"
    );
}

/// Scheduling the same job twice delivers it once.
pub async fn jobs_scheduled_twice_delivered_once(
    sched: &dyn Scheduler,
    drain: &dyn DrainJobs,
    tenant: &str,
) {
    let due = base_time() + Duration::minutes(10);
    let j = job(tenant, "robot-twice", due);
    sched.schedule(j.clone()).await.expect("schedule");
    sched.schedule(j.clone()).await.expect("schedule again");
    assert_eq!(take(drain, due, &[tenant]).await, vec![j], "one timer");
    assert!(
        take(drain, due + Duration::days(1), &[tenant])
            .await
            .is_empty(),
        "only once"
    );
}

/// A run scheduled again after its timer was delivered (the runner found it
/// came early) is delivered again at the new time.
pub async fn jobs_rescheduled_after_delivery_delivered_again(
    sched: &dyn Scheduler,
    drain: &dyn DrainJobs,
    tenant: &str,
) {
    let due = base_time() + Duration::minutes(10);
    let first = job(tenant, "robot-again", due);
    sched.schedule(first.clone()).await.expect("schedule");
    assert_eq!(
        take(drain, due, &[tenant]).await,
        vec![first.clone()],
        "first delivery"
    );
    let again = Job {
        due_at: due + Duration::minutes(5),
        ..first
    };
    sched.schedule(again.clone()).await.expect("schedule again");
    assert!(
        take(drain, due + Duration::minutes(1), &[tenant])
            .await
            .is_empty(),
        "not before the new time"
    );
    assert_eq!(
        take(drain, again.due_at, &[tenant]).await,
        vec![again],
        "delivered again"
    );
}

/// A cancelled timer is never delivered; cancelling what is not scheduled is fine.
pub async fn jobs_cancelled_never_delivered(
    sched: &dyn Scheduler,
    drain: &dyn DrainJobs,
    tenant: &str,
) {
    let due = base_time() + Duration::minutes(10);
    let gone = job(tenant, "robot-cancelled", due);
    let kept = job(tenant, "robot-kept", due);
    sched.schedule(gone.clone()).await.expect("schedule");
    sched.schedule(kept.clone()).await.expect("schedule");
    sched.cancel(tenant, &gone.run_id).await.expect("cancel");
    sched
        .cancel(tenant, &gone.run_id)
        .await
        .expect("cancel twice");
    sched
        .cancel(tenant, "item-9:9:never-scheduled")
        .await
        .expect("cancel an unknown run");
    assert_eq!(
        take(drain, due + Duration::days(1), &[tenant]).await,
        vec![kept.clone()],
        "only the kept timer"
    );
    sched
        .cancel(tenant, &kept.run_id)
        .await
        .expect("cancel after delivery");
    assert!(
        take(drain, due + Duration::days(2), &[tenant])
            .await
            .is_empty()
    );
}

/// The same run id in two tenants is two timers.
pub async fn jobs_tenants_are_separate(sched: &dyn Scheduler, drain: &dyn DrainJobs, tenant: &str) {
    let (ta, tb) = (format!("{tenant}-a"), format!("{tenant}-b"));
    let due = base_time() + Duration::minutes(10);
    let a = job(&ta, "robot-same", due);
    let b = job(&tb, "robot-same", due);
    sched.schedule(a.clone()).await.expect("schedule a");
    sched.schedule(b.clone()).await.expect("schedule b");
    assert_eq!(
        take(drain, due, &[&ta, &tb]).await,
        vec![a.clone(), b.clone()],
        "two timers"
    );

    let a = job(&ta, "robot-again", due);
    let b = job(&tb, "robot-again", due);
    sched.schedule(a.clone()).await.expect("schedule a");
    sched.schedule(b.clone()).await.expect("schedule b");
    sched.cancel(&ta, &a.run_id).await.expect("cancel a");
    assert_eq!(
        take(drain, due, &[&ta, &tb]).await,
        vec![b],
        "cancel in a leaves b"
    );
}

// ----------------------------------------------------- DueJobs (consumer) --

/// Take the due jobs of `tenant`, in the order the adapter returns them
/// (others' jobs are dropped).
fn take_mine(due: &dyn DueJobs, now: DateTime<Utc>, tenant: &str) -> Vec<Job> {
    due.take_due(now, 1_000)
        .expect("take_due")
        .into_iter()
        .filter(|j| j.tenant == tenant)
        .collect()
}

fn stored_jobs(due: &dyn DueJobs) -> usize {
    due.stored().expect("stored jobs")
}

/// Jobs come earliest due first, jobs due together in arrival order, whether
/// sent or scheduled; `limit` takes the head of that order.
pub async fn due_jobs_taken_in_due_order(
    queue: &dyn JobQueue,
    sched: &dyn Scheduler,
    due: &dyn DueJobs,
    tenant: &str,
) {
    // Long before anything else the suite stores, so these are the head.
    let t = base_time() - Duration::days(30);
    let third = job(tenant, "robot-3", t + Duration::minutes(3));
    let first = job(tenant, "robot-1", t + Duration::minutes(1));
    let together_a = job(tenant, "robot-2b", t + Duration::minutes(2));
    let together_b = job(tenant, "robot-2a", t + Duration::minutes(2));
    let timer = job(tenant, "robot-0", t);
    queue
        .send(vec![third.clone(), first.clone(), together_a.clone()])
        .await
        .expect("send");
    sched.schedule(timer.clone()).await.expect("schedule");
    queue
        .send(vec![together_b.clone()])
        .await
        .expect("send the second of the same time");
    let expected = vec![
        timer.clone(),
        first.clone(),
        together_a.clone(),
        together_b.clone(),
        third.clone(),
    ];
    let now = t + Duration::hours(1);
    assert_eq!(
        take_mine(due, now, tenant),
        expected,
        "earliest due first, equal due times in arrival order"
    );
    assert_eq!(
        due.take_due(now, 2).expect("take_due with a limit"),
        expected[..2].to_vec(),
        "a limit takes the head of the due order"
    );
    assert!(
        due.take_due(now, 0).expect("take_due nothing").is_empty(),
        "a limit of zero takes nothing"
    );
    due.ack_many(&expected).expect("ack_many");
    assert!(take_mine(due, now, tenant).is_empty(), "all acked");
}

/// `take_due_fair`: each tenant's first `per_tenant` due jobs, in due order,
/// the tenants in turn (in order of their first due job), cut to `limit`; a
/// long backlog of one tenant does not keep another's job out. What it takes
/// is taken (offered again until acked, like `take_due`).
pub async fn due_jobs_fair_take_serves_tenants_in_turn(
    queue: &dyn JobQueue,
    due: &dyn DueJobs,
    tenant: &str,
) {
    let (a, b) = (format!("{tenant}-a"), format!("{tenant}-b"));
    // Long before anything else the suite stores, so these are the head.
    let t = base_time() - Duration::days(60);
    let backlog: Vec<Job> = (0..5)
        .map(|i| job(&a, &format!("robot-{i}"), t + Duration::minutes(i)))
        .collect();
    let late = job(&b, "robot-b", t + Duration::minutes(10));
    queue.send(backlog.clone()).await.expect("send backlog");
    queue.send(vec![late.clone()]).await.expect("send b");
    let now = t + Duration::hours(1);
    let mine = |jobs: Vec<Job>| -> Vec<Job> {
        jobs.into_iter()
            .filter(|j| j.tenant == a || j.tenant == b)
            .collect()
    };
    assert_eq!(
        mine(due.take_due(now, 3).expect("take_due")),
        backlog[..3].to_vec(),
        "the plain take is in due order only"
    );
    assert_eq!(
        mine(due.take_due_fair(now, 2, 3).expect("take_due_fair")),
        vec![backlog[0].clone(), late.clone(), backlog[1].clone()],
        "each tenant in turn, at most per_tenant each, cut to limit"
    );
    assert_eq!(
        mine(due.take_due_fair(now, 10, 100).expect("take_due_fair")),
        vec![
            backlog[0].clone(),
            late.clone(),
            backlog[1].clone(),
            backlog[2].clone(),
            backlog[3].clone(),
            backlog[4].clone()
        ],
        "a tenant's jobs keep their due order"
    );
    assert!(
        mine(due.take_due_fair(t, 10, 100).expect("take_due_fair")).len() == 1,
        "only due jobs"
    );
    assert!(
        due.take_due_fair(now, 0, 100)
            .expect("take_due_fair nothing")
            .is_empty()
            && due
                .take_due_fair(now, 10, 0)
                .expect("take_due_fair nothing")
                .is_empty(),
        "zero takes nothing"
    );
    due.ack(&late).expect("ack b");
    assert_eq!(
        mine(due.take_due_fair(now, 2, 100).expect("take_due_fair")),
        backlog[..2].to_vec(),
        "acked is gone, the rest offered again"
    );
    due.ack_many(&backlog).expect("ack_many");
    assert!(mine(due.take_due_fair(now, 10, 100).expect("take")).is_empty());
}

/// A job due later than `now` is neither taken nor in the way; it is taken
/// once `now` reaches its due time. `next_due` sees it without taking it.
pub async fn due_jobs_not_taken_before_due(
    queue: &dyn JobQueue,
    sched: &dyn Scheduler,
    due: &dyn DueJobs,
    tenant: &str,
) {
    let at = base_time() + Duration::days(400);
    let sent = job(tenant, "robot-sent", at);
    let timer = job(tenant, "robot-timer", at + Duration::seconds(1));
    queue.send(vec![sent.clone()]).await.expect("send");
    sched.schedule(timer.clone()).await.expect("schedule");
    let before = at - Duration::milliseconds(1);
    assert!(
        take_mine(due, before, tenant).is_empty(),
        "not taken before it is due"
    );
    let next = due.next_due().expect("next_due");
    assert!(
        next.is_some_and(|n| n <= at),
        "next_due sees the waiting job: {next:?}"
    );
    assert_eq!(
        take_mine(due, at, tenant),
        vec![sent.clone()],
        "taken at its due time, the later one not yet"
    );
    assert_eq!(
        take_mine(due, at + Duration::seconds(1), tenant),
        vec![sent.clone(), timer.clone()],
        "both once both are due"
    );
    due.ack_many(&[sent, timer]).expect("ack_many");
    assert!(take_mine(due, at + Duration::days(1), tenant).is_empty());
}

/// A taken job that is not acked is offered again, and stays stored.
pub async fn due_jobs_offered_again_until_acked(
    queue: &dyn JobQueue,
    due: &dyn DueJobs,
    tenant: &str,
) {
    let now = base_time();
    let j = job(tenant, "robot-unacked", now);
    let before = stored_jobs(due);
    queue.send(vec![j.clone()]).await.expect("send");
    assert_eq!(take_mine(due, now, tenant), vec![j.clone()], "taken");
    assert_eq!(
        take_mine(due, now, tenant),
        vec![j.clone()],
        "offered again while not acked"
    );
    assert_eq!(stored_jobs(due), before + 1, "still stored while taken");
    due.ack(&j).expect("ack");
    assert_eq!(stored_jobs(due), before, "gone once acked");
    assert!(take_mine(due, now, tenant).is_empty(), "not offered again");
}

/// Ack removes the job (taken or not); acking again, or an unknown job, is
/// harmless and leaves the other jobs alone.
pub async fn due_jobs_ack_removes(
    queue: &dyn JobQueue,
    sched: &dyn Scheduler,
    due: &dyn DueJobs,
    tenant: &str,
) {
    let now = base_time();
    let a = job(tenant, "robot-a", now);
    let b = job(tenant, "robot-b", now);
    let timer = job(tenant, "robot-timer", now);
    let before = stored_jobs(due);
    queue.send(vec![a.clone(), b.clone()]).await.expect("send");
    sched.schedule(timer.clone()).await.expect("schedule");
    assert_eq!(stored_jobs(due), before + 3);
    assert_eq!(
        take_mine(due, now, tenant),
        vec![a.clone(), b.clone(), timer.clone()]
    );
    due.ack(&a).expect("ack a");
    due.ack(&a).expect("ack a again");
    due.ack(&job(tenant, "robot-never-stored", now))
        .expect("ack an unknown job");
    assert_eq!(stored_jobs(due), before + 2, "only a is gone");
    assert_eq!(
        take_mine(due, now, tenant),
        vec![b.clone(), timer.clone()],
        "the others are still offered"
    );
    // Not taken since it was stored: removed by name.
    let fresh = job(tenant, "robot-fresh", now);
    queue.send(vec![fresh.clone()]).await.expect("send");
    due.ack(&fresh).expect("ack a job that was not taken");
    due.ack_many(&[b, timer]).expect("ack_many");
    assert_eq!(stored_jobs(due), before, "all gone");
    assert!(take_mine(due, now + Duration::days(1), tenant).is_empty());
}

/// While a job is taken it is no longer a timer: `cancel` leaves it alone,
/// and the same run scheduled again (the runner reschedules a run that came
/// early) is kept beside it, survives the taken one's ack and is delivered
/// at its own time.
pub async fn due_jobs_taken_is_no_longer_a_timer(
    sched: &dyn Scheduler,
    due: &dyn DueJobs,
    tenant: &str,
) {
    let at = base_time() + Duration::days(2);
    let first = job(tenant, "robot-early", at);
    sched.schedule(first.clone()).await.expect("schedule");
    assert_eq!(take_mine(due, at, tenant), vec![first.clone()], "taken");
    sched
        .cancel(tenant, &first.run_id)
        .await
        .expect("cancel while taken");
    assert_eq!(
        take_mine(due, at, tenant),
        vec![first.clone()],
        "cancel leaves a taken job alone"
    );
    let later = Job {
        due_at: at + Duration::minutes(5),
        ..first.clone()
    };
    sched.schedule(later.clone()).await.expect("reschedule");
    due.ack(&first).expect("ack the taken one");
    assert!(
        take_mine(due, at + Duration::minutes(1), tenant).is_empty(),
        "the rescheduled job waits for its own time"
    );
    assert_eq!(
        take_mine(due, later.due_at, tenant),
        vec![later.clone()],
        "the rescheduled job survived the ack of the taken one"
    );
    due.ack(&later).expect("ack");
    assert!(take_mine(due, at + Duration::days(1), tenant).is_empty());
}

/// An unreadable job at the head of the queue is parked (counted, no longer
/// stored, never returned) and the jobs behind it are taken.
pub async fn due_jobs_unreadable_parked(
    queue: &dyn JobQueue,
    due: &dyn DueJobs,
    unreadable: &dyn Unreadable,
    tenant: &str,
) {
    let now = base_time();
    let good = job(tenant, "robot-good", now);
    let (stored, parked) = (stored_jobs(due), due.parked().expect("parked"));
    queue.send(vec![good.clone()]).await.expect("send");
    unreadable.put_unreadable_job(tenant, now - Duration::hours(1));
    assert_eq!(stored_jobs(due), stored + 2, "both stored");
    assert_eq!(
        due.take_due(now, 1).expect("take_due"),
        Vec::<Job>::new(),
        "the unreadable head is not returned"
    );
    assert_eq!(due.parked().expect("parked"), parked + 1, "it was parked");
    assert_eq!(stored_jobs(due), stored + 1, "and left the queue");
    assert_eq!(
        take_mine(due, now, tenant),
        vec![good.clone()],
        "the job behind it is taken"
    );
    assert_eq!(
        due.parked().expect("parked"),
        parked + 1,
        "parked once, not again"
    );
    due.ack(&good).expect("ack");
    assert_eq!(stored_jobs(due), stored);
}

// ------------------------------------------ EventQueue / QueuedEvents --

fn event(tenant: &str, id: &str) -> QueuedEvent {
    QueuedEvent {
        tenant: tenant.to_owned(),
        event_id: id.to_owned(),
        event_type: "webhook".to_owned(),
        item_id: Some("item-1".to_owned()),
        client: None,
        data: json!({ "id": id, "text": "«Ω» 🚀" }),
        occurred_at: base_time(),
        chain: None,
        fan_out: None,
    }
}

/// Every event sent is delivered once, exactly as sent (order is not part of
/// this check: an SQS standard queue does not keep it).
pub async fn events_sent_are_delivered_once(
    queue: &dyn EventQueue,
    drain: &dyn DrainEvents,
    tenant: &str,
) {
    let mut sent = vec![
        event(tenant, "e-1"),
        event(tenant, "e-2"),
        event(tenant, "e-3"),
    ];
    // Every optional field set on one of them.
    sent[1].client = Some(crm_core::model::ClientRef {
        phone: Some("+7 900 000-00-00".to_owned()),
        email: Some("buyer@romashka.test".to_owned()),
    });
    sent[1].item_id = None;
    sent[2].chain = Some(crm_core::model::Chain {
        id: "chain-1".to_owned(),
        hops: 2,
    });
    for e in &sent {
        queue.send(e.clone()).await.expect("send event");
    }
    let mut got: Vec<QueuedEvent> = drain
        .take_all()
        .await
        .into_iter()
        .filter(|e| e.tenant == tenant)
        .collect();
    got.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    let expected = sent;
    assert_eq!(got, expected, "each event sent is delivered, as sent");
    assert!(
        drain
            .take_all()
            .await
            .into_iter()
            .all(|e| e.tenant != tenant),
        "and only once"
    );
}

/// Take the stored events of `tenant`, oldest first (others' are dropped).
fn take_events(events: &dyn QueuedEvents, tenant: &str) -> Vec<(EventSeq, QueuedEvent)> {
    events
        .take(1_000)
        .expect("take events")
        .into_iter()
        .filter(|(_, e)| e.tenant == tenant)
        .collect()
}

fn stored_events(events: &dyn QueuedEvents) -> usize {
    events.stored().expect("stored events")
}

async fn send_events(queue: &dyn EventQueue, tenant: &str, ids: &[&str]) -> Vec<QueuedEvent> {
    let mut sent = Vec::new();
    for id in ids {
        let e = event(tenant, id);
        queue.send(e.clone()).await.expect("send event");
        sent.push(e);
    }
    sent
}

fn ack_all(events: &dyn QueuedEvents, taken: &[(EventSeq, QueuedEvent)]) {
    for (seq, _) in taken {
        events.ack(*seq).expect("ack event");
    }
}

/// Events come back as sent, oldest first; `limit` takes the oldest.
pub async fn events_taken_oldest_first(
    queue: &dyn EventQueue,
    events: &dyn QueuedEvents,
    tenant: &str,
) {
    let sent = send_events(queue, tenant, &["e-1", "e-2", "e-3"]).await;
    let taken = take_events(events, tenant);
    assert_eq!(
        taken.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(),
        sent,
        "every event, as sent, oldest first"
    );
    assert!(
        taken.windows(2).all(|w| w[0].0 < w[1].0),
        "receipts increase in send order: {:?}",
        taken.iter().map(|(s, _)| s).collect::<Vec<_>>()
    );
    let head = events.take(2).expect("take with a limit");
    assert_eq!(head, taken[..2].to_vec(), "a limit takes the oldest");
    assert!(events.take(0).expect("take nothing").is_empty());
    ack_all(events, &taken);
    assert!(take_events(events, tenant).is_empty(), "all acked");
}

/// `take_fair`: each tenant's `per_tenant` oldest events, oldest first, the
/// tenants in turn (in order of their oldest event), cut to `limit`, with
/// the receipts of the plain take.
pub async fn events_fair_take_serves_tenants_in_turn(
    queue: &dyn EventQueue,
    events: &dyn QueuedEvents,
    tenant: &str,
) {
    let (a, b) = (format!("{tenant}-a"), format!("{tenant}-b"));
    let backlog = send_events(queue, &a, &["a-1", "a-2", "a-3", "a-4"]).await;
    let late = send_events(queue, &b, &["b-1"]).await.remove(0);
    let mine = |taken: Vec<(EventSeq, QueuedEvent)>| -> Vec<(EventSeq, QueuedEvent)> {
        taken
            .into_iter()
            .filter(|(_, e)| e.tenant == a || e.tenant == b)
            .collect()
    };
    let all = mine(events.take(1_000).expect("take"));
    assert_eq!(all.len(), 5);
    let ids = |taken: &[(EventSeq, QueuedEvent)]| -> Vec<String> {
        taken.iter().map(|(_, e)| e.event_id.clone()).collect()
    };
    let fair = mine(events.take_fair(2, 3).expect("take_fair"));
    assert_eq!(
        ids(&fair),
        ["a-1", "b-1", "a-2"],
        "each tenant in turn, at most per_tenant each, cut to limit"
    );
    assert_eq!(fair[1], all[4], "with the receipt of the plain take");
    assert_eq!(fair[1].1, late);
    let fair = mine(events.take_fair(10, 100).expect("take_fair"));
    assert_eq!(
        ids(&fair),
        ["a-1", "b-1", "a-2", "a-3", "a-4"],
        "a tenant's events stay oldest first"
    );
    assert!(events.take_fair(0, 10).expect("take_fair").is_empty());
    assert!(events.take_fair(10, 0).expect("take_fair").is_empty());
    ack_all(events, &all);
    assert!(mine(events.take_fair(10, 100).expect("take_fair")).is_empty());
    let _ = backlog;
}

/// An event taken but not acked is offered again, with the same receipt,
/// and stays stored.
pub async fn events_offered_again_until_acked(
    queue: &dyn EventQueue,
    events: &dyn QueuedEvents,
    tenant: &str,
) {
    let before = stored_events(events);
    let sent = send_events(queue, tenant, &["e-unacked"]).await;
    let first = take_events(events, tenant);
    assert_eq!(first.len(), 1, "taken: {first:?}");
    assert_eq!(first[0].1, sent[0]);
    assert_eq!(
        take_events(events, tenant),
        first,
        "offered again, same receipt"
    );
    assert_eq!(
        stored_events(events),
        before + 1,
        "still stored while taken"
    );
    ack_all(events, &first);
    assert_eq!(stored_events(events), before, "gone once acked");
    assert!(take_events(events, tenant).is_empty());
}

/// Ack removes exactly one event; acking it again, or an unknown receipt,
/// succeeds and removes nothing else.
pub async fn events_ack_is_harmless_to_repeat(
    queue: &dyn EventQueue,
    events: &dyn QueuedEvents,
    tenant: &str,
) {
    let before = stored_events(events);
    let sent = send_events(queue, tenant, &["e-1", "e-2", "e-3"]).await;
    let taken = take_events(events, tenant);
    assert_eq!(taken.len(), 3, "{taken:?}");
    let middle = taken[1].0;
    events.ack(middle).expect("ack");
    events.ack(middle).expect("ack again");
    let unknown = taken.iter().map(|(s, _)| *s).max().expect("receipts") + 1_000_000;
    events.ack(unknown).expect("ack an unknown receipt");
    let rest = take_events(events, tenant);
    assert_eq!(
        rest.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(),
        vec![sent[0].clone(), sent[2].clone()],
        "only the acked event is gone"
    );
    assert_eq!(stored_events(events), before + 2);
    ack_all(events, &rest);
    assert_eq!(stored_events(events), before);
}

/// An unreadable event ahead of readable ones is parked (counted, no longer
/// stored, never returned) and the events behind it are taken.
pub async fn events_unreadable_parked(
    queue: &dyn EventQueue,
    events: &dyn QueuedEvents,
    unreadable: &dyn Unreadable,
    tenant: &str,
) {
    let (stored, parked) = (stored_events(events), events.parked().expect("parked"));
    unreadable.put_unreadable_event();
    let sent = send_events(queue, tenant, &["e-behind"]).await;
    assert_eq!(stored_events(events), stored + 2, "both stored");
    let taken = take_events(events, tenant);
    assert_eq!(
        taken.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(),
        sent,
        "the event behind the unreadable one is taken"
    );
    assert_eq!(
        events.parked().expect("parked"),
        parked + 1,
        "it was parked"
    );
    assert_eq!(stored_events(events), stored + 1, "and left the queue");
    assert_eq!(
        take_events(events, tenant),
        taken,
        "offered again until acked"
    );
    assert_eq!(
        events.parked().expect("parked"),
        parked + 1,
        "parked once, not again"
    );
    ack_all(events, &taken);
    assert_eq!(stored_events(events), stored);
}
