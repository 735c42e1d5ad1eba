//! Durability and adapter-specific behaviour; the shared semantics are checked
//! by the contract suite in `crm-tests`.

use std::path::Path;

use chrono::{DateTime, Duration, TimeZone, Utc};
use crm_core::model::QueuedEvent;
use crm_core::ports::{
    Cond, Doc, DocKey, DocStore, EventQueue, Job, JobQueue, Kind, Scheduler, StoreError, Write,
};
use serde_json::json;

use crate::{Db, EmbeddedError, SCHEMA_VERSION, jobs, store};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 9, 0, 0).unwrap()
}

fn doc(id: &str, version: u64, parent: Option<&str>) -> Doc {
    Doc {
        key: DocKey::new("t1", Kind::Item, id),
        version,
        parent: parent.map(str::to_owned),
        expires_at: None,
        body: json!({ "id": id, "n": version }),
    }
}

fn put(d: Doc, cond: Cond) -> Write {
    Write::Put { doc: d, cond }
}

fn job(run_id: &str, due_at: DateTime<Utc>) -> Job {
    Job {
        tenant: "t1".into(),
        run_id: run_id.into(),
        item_id: "item-1".into(),
        visit: 1,
        due_at,
        then: Vec::new(),
    }
}

fn event(id: &str) -> QueuedEvent {
    QueuedEvent {
        tenant: "t1".into(),
        event_id: id.into(),
        event_type: "webhook".into(),
        item_id: Some("item-1".into()),
        client: None,
        data: json!({ "k": id }),
        occurred_at: t0(),
        chain: None,
        fan_out: None,
    }
}

fn far() -> DateTime<Utc> {
    t0() + Duration::days(3650)
}

#[tokio::test]
async fn everything_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path()).unwrap();
        db.store()
            .transact(vec![
                put(doc("a", 1, Some("p")), Cond::Absent),
                put(doc("b", 1, None), Cond::Absent),
            ])
            .await
            .unwrap();
        db.jobs().send(vec![job("q", t0())]).await.unwrap();
        db.jobs()
            .schedule(job("s", t0() + Duration::hours(1)))
            .await
            .unwrap();
        db.events().send(event("e1")).await.unwrap();
        db.events().send(event("e2")).await.unwrap();
    }
    assert!(dir.path().join(crate::DB_FILE).exists());

    let db = Db::open(dir.path()).unwrap();
    let store = db.store();
    assert_eq!(
        store
            .get(&DocKey::new("t1", Kind::Item, "a"))
            .await
            .unwrap(),
        Some(doc("a", 1, Some("p")))
    );
    assert_eq!(
        store
            .get(&DocKey::new("t1", Kind::Item, "b"))
            .await
            .unwrap(),
        Some(doc("b", 1, None))
    );
    assert_eq!(
        store.list("t1", Kind::Item, "p").await.unwrap(),
        vec![doc("a", 1, Some("p"))]
    );

    let jobs = db.jobs();
    assert_eq!(jobs.len().unwrap(), 2);
    assert_eq!(jobs.next_due().unwrap(), Some(t0()));
    assert!(jobs.is_scheduled("t1", "s").unwrap());
    assert!(!jobs.is_scheduled("t1", "q").unwrap());
    assert_eq!(
        jobs.due(far(), 10).unwrap(),
        vec![job("q", t0()), job("s", t0() + Duration::hours(1))]
    );

    let events = db.events();
    let peeked = events.peek(10).unwrap();
    let ids: Vec<_> = peeked.iter().map(|(_, e)| e.event_id.as_str()).collect();
    assert_eq!(ids, ["e1", "e2"]);
    assert_eq!(peeked[0].1, event("e1"));
}

#[test]
fn a_job_taken_but_not_acked_is_offered_again_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    {
        let jobs = Db::open(dir.path()).unwrap().jobs();
        rt.block_on(jobs.send(vec![job("q", t0())])).unwrap();
        assert_eq!(jobs.due(t0(), 10).unwrap(), vec![job("q", t0())]);
        // Not removed by `due`: still there on a second look.
        assert_eq!(jobs.due(t0(), 10).unwrap(), vec![job("q", t0())]);
        // The process dies here, before `ack`.
    }
    let jobs = Db::open(dir.path()).unwrap().jobs();
    let taken = jobs.due(t0(), 10).unwrap();
    assert_eq!(taken, vec![job("q", t0())]);
    jobs.ack(&taken[0]).unwrap();
    drop(jobs);

    let jobs = Db::open(dir.path()).unwrap().jobs();
    assert!(jobs.is_empty().unwrap());
    assert_eq!(jobs.next_due().unwrap(), None);
}

#[test]
fn events_are_fifo_and_stay_until_acked() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let events = Db::open(dir.path()).unwrap().events();
    for id in ["e1", "e2", "e3"] {
        rt.block_on(events.send(event(id))).unwrap();
    }
    let first = events.peek(2).unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].1.event_id, "e1");
    assert_eq!(first[1].1.event_id, "e2");
    assert!(first[0].0 < first[1].0);
    events.ack(first[0].0).unwrap();
    events.ack(first[0].0).unwrap(); // acking twice is fine
    drop(events);

    let events = Db::open(dir.path()).unwrap().events();
    assert_eq!(events.len().unwrap(), 2);
    let rest: Vec<_> = events
        .peek(10)
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.event_id)
        .collect();
    assert_eq!(rest, ["e2", "e3"]);
    // New events after a reopen still come after the old ones.
    rt.block_on(events.send(event("e4"))).unwrap();
    for (seq, _) in events.peek(10).unwrap() {
        events.ack(seq).unwrap();
    }
    assert!(events.is_empty().unwrap());
}

#[tokio::test]
async fn jobs_due_together_keep_their_order_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let jobs = Db::open(dir.path()).unwrap().jobs();
        jobs.send(vec![job("b", t0()), job("a", t0())])
            .await
            .unwrap();
    }
    let jobs = Db::open(dir.path()).unwrap().jobs();
    jobs.schedule(job("0", t0())).await.unwrap();
    jobs.send(vec![job("early", t0() - Duration::seconds(1))])
        .await
        .unwrap();
    let order: Vec<_> = jobs
        .due(t0(), 10)
        .unwrap()
        .into_iter()
        .map(|j| j.run_id)
        .collect();
    assert_eq!(order, ["early", "b", "a", "0"]);
    assert_eq!(jobs.due(t0(), 2).unwrap().len(), 2);
}

#[tokio::test]
async fn due_times_are_exact() {
    let jobs = Db::open_in_memory().unwrap().jobs();
    let at = t0() + Duration::nanoseconds(500_001);
    jobs.schedule(job("s", at)).await.unwrap();
    assert!(jobs.due(t0(), 10).unwrap().is_empty());
    assert!(
        jobs.due(at - Duration::nanoseconds(1), 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(jobs.next_due().unwrap(), Some(at));
    assert_eq!(jobs.due(at, 10).unwrap(), vec![job("s", at)]);
    let far_future = Utc.with_ymd_and_hms(9999, 1, 1, 0, 0, 0).unwrap();
    jobs.schedule(job("far", far_future)).await.unwrap();
    assert_eq!(jobs.due(at, 10).unwrap(), vec![job("s", at)]);
    assert_eq!(jobs.due(far_future, 10).unwrap().len(), 2);
}

#[tokio::test]
async fn a_sent_job_merges_into_a_timer_of_the_same_run() {
    let jobs = Db::open_in_memory().unwrap().jobs();
    jobs.schedule(job("r", t0() + Duration::hours(1)))
        .await
        .unwrap();
    jobs.send(vec![job("r", t0())]).await.unwrap();
    assert_eq!(jobs.len().unwrap(), 1);
    assert!(!jobs.is_scheduled("t1", "r").unwrap());
    // The queued delivery cannot be cancelled as a timer.
    jobs.cancel("t1", "r").await.unwrap();
    // A later send does not postpone an earlier job.
    jobs.send(vec![job("r", t0() + Duration::hours(2))])
        .await
        .unwrap();
    assert_eq!(jobs.len().unwrap(), 1);
    assert_eq!(jobs.due(t0(), 10).unwrap(), vec![job("r", t0())]);
    jobs.ack(&job("r", t0())).unwrap();
    assert!(jobs.is_empty().unwrap());
}

#[tokio::test]
async fn a_run_rescheduled_while_it_runs_survives_the_ack() {
    let jobs = Db::open_in_memory().unwrap().jobs();
    jobs.schedule(job("r", t0())).await.unwrap();
    let taken = jobs.due(t0(), 10).unwrap();
    assert_eq!(taken, vec![job("r", t0())]);
    assert!(
        !jobs.is_scheduled("t1", "r").unwrap(),
        "taken, no longer waiting"
    );
    // Cancelling a taken job leaves it for its ack.
    jobs.cancel("t1", "r").await.unwrap();
    assert_eq!(jobs.len().unwrap(), 1);

    // The runner finds the run came early and schedules it again.
    let later = job("r", t0() + Duration::hours(1));
    jobs.schedule(later.clone()).await.unwrap();
    assert!(jobs.is_scheduled("t1", "r").unwrap());
    // ... and scheduling the same again keeps one timer.
    jobs.schedule(later.clone()).await.unwrap();
    jobs.ack(&taken[0]).unwrap();
    assert_eq!(jobs.len().unwrap(), 1, "the new timer survives the ack");
    assert!(jobs.due(t0(), 10).unwrap().is_empty());
    assert_eq!(jobs.next_due().unwrap(), Some(later.due_at));
    assert_eq!(jobs.due(later.due_at, 10).unwrap(), vec![later.clone()]);
    jobs.ack(&later).unwrap();
    assert!(jobs.is_empty().unwrap());
}

#[tokio::test]
async fn a_job_sent_while_the_same_job_runs_is_delivered_again() {
    let jobs = Db::open_in_memory().unwrap().jobs();
    jobs.send(vec![job("r", t0())]).await.unwrap();
    let taken = jobs.due(t0(), 10).unwrap();
    jobs.send(vec![job("r", t0())]).await.unwrap();
    jobs.ack(&taken[0]).unwrap();
    assert_eq!(jobs.due(t0(), 10).unwrap(), vec![job("r", t0())]);
}

#[tokio::test]
async fn two_handles_on_one_file_see_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let a = Db::open(dir.path()).unwrap().store();
    let b = Db::open(dir.path()).unwrap().store();
    a.transact(vec![put(doc("x", 1, Some("p")), Cond::Absent)])
        .await
        .unwrap();
    assert_eq!(
        b.list("t1", Kind::Item, "p").await.unwrap(),
        vec![doc("x", 1, Some("p"))]
    );
    let err = b
        .transact(vec![put(doc("x", 1, None), Cond::Absent)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
}

#[test]
fn optimistic_updates_from_threads_on_two_connections_lose_nothing() {
    const THREADS: u64 = 4;
    const UPDATES: u64 = 25;
    let dir = tempfile::tempdir().unwrap();
    let dbs = [Db::open(dir.path()).unwrap(), Db::open(dir.path()).unwrap()];
    let key = DocKey::new("t1", Kind::Counter, "c");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(dbs[0].store().transact(vec![Write::Put {
        doc: Doc {
            key: key.clone(),
            version: 1,
            parent: None,
            expires_at: None,
            body: json!({ "n": 0 }),
        },
        cond: Cond::Absent,
    }]))
    .unwrap();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let store = dbs[usize::try_from(t % 2).unwrap()].store();
            let key = key.clone();
            s.spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    for _ in 0..UPDATES {
                        loop {
                            let mut d = store.get(&key).await.unwrap().unwrap();
                            let cond = Cond::Version(d.version);
                            d.version += 1;
                            d.body["n"] = json!(d.body["n"].as_u64().unwrap() + 1);
                            match store.transact(vec![Write::Put { doc: d, cond }]).await {
                                Ok(()) => break,
                                Err(StoreError::Conflict { .. }) => continue,
                                Err(e) => panic!("{e}"),
                            }
                        }
                    }
                });
            });
        }
    });
    let d = rt.block_on(dbs[1].store().get(&key)).unwrap().unwrap();
    assert_eq!(d.version, 1 + THREADS * UPDATES);
    assert_eq!(d.body["n"], json!(THREADS * UPDATES));
}

#[tokio::test]
async fn purge_expired_deletes_only_expired_documents() {
    let store = Db::open_in_memory().unwrap().store();
    let mut old = doc("old", 1, Some("p"));
    old.expires_at = Some(100);
    let mut later = doc("later", 1, Some("p"));
    later.expires_at = Some(300);
    store
        .transact(vec![
            put(old, Cond::Absent),
            put(later.clone(), Cond::Absent),
            put(doc("keep", 1, Some("p")), Cond::Absent),
        ])
        .await
        .unwrap();
    assert_eq!(store.purge_expired(200).unwrap(), 1);
    let ids: Vec<_> = store
        .list("t1", Kind::Item, "p")
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.key.id)
        .collect();
    assert_eq!(ids, ["keep", "later"]);
}

#[tokio::test]
async fn a_version_beyond_i64_is_invalid_and_writes_nothing() {
    let store = Db::open_in_memory().unwrap().store();
    let err = store
        .transact(vec![
            put(doc("a", 1, None), Cond::Any),
            put(doc("b", u64::MAX, None), Cond::Any),
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(
        store
            .get(&DocKey::new("t1", Kind::Item, "a"))
            .await
            .unwrap(),
        None
    );
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(Db::open(dir.path()).unwrap());
    set_user_version(dir.path(), SCHEMA_VERSION + 1);
    match Db::open(dir.path()) {
        Err(EmbeddedError::Schema { found }) => assert_eq!(found, SCHEMA_VERSION + 1),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("opened a newer schema"),
    }
}

fn set_user_version(dir: &Path, v: i64) {
    let conn = rusqlite::Connection::open(dir.join(crate::DB_FILE)).unwrap();
    conn.pragma_update(None, "user_version", v).unwrap();
}

#[test]
fn list_reads_the_parent_index_in_order() {
    let db = Db::open_in_memory().unwrap();
    let g = db.lock();
    let plan: Vec<String> = g
        .conn
        .prepare(&format!("EXPLAIN QUERY PLAN {}", store::LIST))
        .unwrap()
        .query_map(("t1", "item", "p"), |row| row.get::<_, String>(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let plan = plan.join("\n");
    assert!(plan.contains("docs_by_parent"), "{plan}");
    assert!(!plan.contains("TEMP B-TREE"), "{plan}");
}

#[test]
fn due_reads_the_due_index_in_order() {
    let db = Db::open_in_memory().unwrap();
    let g = db.lock();
    let plan: Vec<String> = g
        .conn
        .prepare(&format!("EXPLAIN QUERY PLAN {}", jobs::DUE))
        .unwrap()
        .query_map((0, 10), |row| row.get::<_, String>(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let plan = plan.join("\n");
    assert!(plan.contains("jobs_by_due"), "{plan}");
    assert!(!plan.contains("TEMP B-TREE"), "{plan}");
}

/// Schema version 1 (before documents moved to a rowid table), with data.
const SCHEMA_V1: &str = "
CREATE TABLE docs (
    tenant TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL,
    version INTEGER NOT NULL, parent TEXT, expires_at INTEGER, body TEXT NOT NULL,
    PRIMARY KEY (tenant, kind, id)
) WITHOUT ROWID;
CREATE INDEX docs_by_parent ON docs (tenant, kind, parent, id);
CREATE INDEX docs_by_expiry ON docs (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE jobs (
    name TEXT PRIMARY KEY, tenant TEXT NOT NULL, run_id TEXT NOT NULL,
    due_at_ns INTEGER NOT NULL, seq INTEGER NOT NULL, scheduled INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX jobs_by_due ON jobs (due_at_ns, seq);
CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
INSERT INTO docs VALUES ('t1', 'item', 'a', 3, NULL, NULL, '{\"id\":\"a\",\"n\":3}');
INSERT INTO docs VALUES ('t1', 'run', 'a:1:r', 1, 'a', NULL, '{\"id\":\"a:1:r\"}');
INSERT INTO docs VALUES ('t1', 'run', 'a:1:s', 2, 'a', 99, '{\"id\":\"a:1:s\"}');
PRAGMA user_version = 1;
";

#[tokio::test]
async fn a_version_1_database_is_migrated_with_its_documents_and_jobs() {
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = rusqlite::Connection::open(dir.path().join(crate::DB_FILE)).unwrap();
        conn.execute_batch(SCHEMA_V1).unwrap();
        let body = serde_json::to_string(&job("a:1:r", t0())).unwrap();
        conn.execute(
            "INSERT INTO jobs VALUES ('run-a', 't1', 'a:1:r', 1, 1, 1, ?1)",
            [body],
        )
        .unwrap();
    }
    let db = Db::open(dir.path()).unwrap();
    let s = db.store();
    let a = s.get(&DocKey::new("t1", Kind::Item, "a")).await.unwrap();
    assert_eq!(
        a.map(|d| (d.version, d.body)),
        Some((3, json!({"id": "a", "n": 3})))
    );
    let runs: Vec<(String, u64, Option<i64>)> = s
        .list("t1", Kind::Run, "a")
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.key.id, d.version, d.expires_at))
        .collect();
    assert_eq!(
        runs,
        vec![("a:1:r".into(), 1, None), ("a:1:s".into(), 2, Some(99))]
    );
    assert_eq!(
        s.purge_expired(100).unwrap(),
        1,
        "the expiry index came along"
    );
    let due = db.jobs().due(far(), 10).unwrap();
    assert_eq!(
        due,
        vec![job("a:1:r", t0())],
        "queued work survives the upgrade"
    );
    // Written after the upgrade: the old key must still be unique.
    let dup = s.transact(vec![put(doc("a", 1, None), Cond::Absent)]).await;
    assert!(matches!(dup, Err(StoreError::Conflict { .. })), "{dup:?}");
    drop(db);
    let conn = rusqlite::Connection::open(dir.path().join(crate::DB_FILE)).unwrap();
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
    let seqs: i64 = conn
        .query_row("SELECT COUNT(DISTINCT seq) FROM docs", [], |r| r.get(0))
        .expect("documents are in the rowid table");
    assert_eq!(seqs, 2, "three documents migrated, one purged since");
}

#[tokio::test]
async fn rewriting_a_document_in_place_keeps_its_lists_and_expiry_exact() {
    let db = Db::open_in_memory().unwrap();
    let s = db.store();
    let mut d = doc("x", 1, Some("p"));
    s.transact(vec![put(d.clone(), Cond::Absent)])
        .await
        .unwrap();
    // Same parent and expiry: rewritten in place.
    d.version = 2;
    d.body = json!({"id": "x", "n": 2});
    s.transact(vec![put(d.clone(), Cond::Version(1))])
        .await
        .unwrap();
    // A new expiry: the expiry index must see it.
    d.version = 3;
    d.expires_at = Some(50);
    s.transact(vec![put(d.clone(), Cond::Any)]).await.unwrap();
    let listed = s.list("t1", Kind::Item, "p").await.unwrap();
    assert_eq!(listed, vec![d.clone()]);
    assert_eq!(s.purge_expired(49).unwrap(), 0);
    assert_eq!(s.purge_expired(51).unwrap(), 1);
    assert_eq!(s.list("t1", Kind::Item, "p").await.unwrap(), vec![]);
}

#[tokio::test]
async fn an_unreadable_job_or_event_is_parked_and_the_rest_still_run() {
    let db = Db::open_in_memory().unwrap();
    let jobs = db.jobs();
    let events = db.events();
    jobs.send(vec![job("r-late", t0())]).await.unwrap();
    events.send(event("e-late")).await.unwrap();
    {
        let g = db.lock();
        // Written by some other version: ahead of the good ones in both queues.
        g.conn
            .execute(
                "INSERT INTO jobs VALUES ('run-bad', 't1', 'bad', 0, 0, 1, '{\"tenant\":1}')",
                [],
            )
            .unwrap();
        g.conn
            .execute("INSERT INTO events (seq, body) VALUES (0, 'not json')", [])
            .unwrap();
    }
    let due = jobs.due(far(), 10).unwrap();
    assert_eq!(due, vec![job("r-late", t0())]);
    let peeked: Vec<String> = events
        .peek(10)
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.event_id)
        .collect();
    assert_eq!(peeked, vec!["e-late".to_string()]);
    assert_eq!(db.parked().unwrap(), 2);
    assert_eq!((jobs.len().unwrap(), events.len().unwrap()), (1, 1));
    // Parked with what is needed to look into it.
    let g = db.lock();
    let kept: Vec<(String, String, String)> = g
        .conn
        .prepare("SELECT queue, key, body FROM parked ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        kept,
        vec![
            ("jobs".into(), "run-bad".into(), "{\"tenant\":1}".into()),
            ("events".into(), "0".into(), "not json".into()),
        ]
    );
}

/// The query plan of `sql` with `params`, one line per step.
fn plan_of(db: &Db, sql: &str, params: impl rusqlite::Params) -> String {
    let g = db.lock();
    let plan: Vec<String> = g
        .conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap()
        .query_map(params, |row| row.get::<_, String>(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    plan.join("\n")
}

#[test]
fn fair_takes_read_the_per_tenant_indexes_in_order() {
    let db = Db::open_in_memory().unwrap();
    for (sql, index) in [
        (jobs::TENANTS, "jobs_by_tenant_due"),
        (crate::events::TENANTS, "events_by_tenant"),
    ] {
        let plan = plan_of(&db, sql, ());
        assert!(plan.contains(index), "{plan}");
        assert!(
            !plan.contains("SCAN jobs\n") && !plan.contains("TEMP B-TREE"),
            "{plan}"
        );
    }
    let plan = plan_of(&db, jobs::DUE_TENANT, ("t1", 0, 10));
    assert!(plan.contains("jobs_by_tenant_due"), "{plan}");
    assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    let plan = plan_of(&db, crate::events::PEEK_TENANT, ("t1", 10));
    assert!(plan.contains("events_by_tenant"), "{plan}");
    assert!(!plan.contains("TEMP B-TREE"), "{plan}");
}

#[tokio::test]
async fn a_version_2_database_is_migrated_with_its_events_by_tenant() {
    use crm_core::work_source::QueuedEvents;
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = rusqlite::Connection::open(dir.path().join(crate::DB_FILE)).unwrap();
        conn.execute_batch(
            "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
             PRAGMA user_version = 2;",
        )
        .unwrap();
        let mut other = event("e-2");
        other.tenant = "t2".into();
        for e in [event("e-1"), event("e-3")] {
            let body = serde_json::to_string(&e).unwrap();
            conn.execute("INSERT INTO events (body) VALUES (?1)", [body])
                .unwrap();
            if e.event_id == "e-1" {
                let body = serde_json::to_string(&other).unwrap();
                conn.execute("INSERT INTO events (body) VALUES (?1)", [body])
                    .unwrap();
            }
        }
        conn.execute("INSERT INTO events (body) VALUES ('not json')", [])
            .unwrap();
    }
    let db = Db::open(dir.path()).unwrap();
    let events = db.events();
    let ids: Vec<String> = events
        .take_fair(1, 10)
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.event_id)
        .collect();
    assert_eq!(ids, ["e-1", "e-2"], "one of each tenant, the oldest first");
    assert_eq!(events.parked().unwrap(), 1, "the unreadable one is parked");
    assert_eq!(events.stored().unwrap(), 3);
}

/// Issue #11: a visit job (a run and the runs `then`) is stored and taken
/// back whole, queued or scheduled, across a reopen.
#[tokio::test]
async fn a_visit_job_keeps_its_runs_queued_or_scheduled_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let visit = Job {
        then: vec!["r2".into(), "r3".into()],
        ..job("r1", t0())
    };
    let later = Job {
        then: vec!["s2".into()],
        ..job("s1", t0() + Duration::hours(1))
    };
    {
        let jobs = Db::open(dir.path()).unwrap().jobs();
        jobs.send(vec![visit.clone()]).await.unwrap();
        jobs.schedule(later.clone()).await.unwrap();
    }
    let jobs = Db::open(dir.path()).unwrap().jobs();
    assert_eq!(jobs.due(t0(), 10).unwrap(), vec![visit]);
    assert_eq!(jobs.due(t0() + Duration::hours(1), 10).unwrap()[1], later);
}
