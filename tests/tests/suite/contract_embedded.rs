//! The contract suite on the SQLite adapters, plus durability across a reopen.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, TimeZone, Utc};
use crm_core::ports::{Cond, Doc, DocKey, DocStore, Job, JobQueue, Kind, Scheduler, Write};
use crm_embedded::{DB_FILE, Db};
use crm_tests::contract::{self, DrainJobs, TakeAndAck, TakeAndAckEvents, Unreadable};
use serde_json::json;

/// Writes unreadable rows into the queues of the database in a directory,
/// through a second connection (as another version of the program would).
struct RawRows(PathBuf);

impl RawRows {
    fn new(dir: &Path) -> Self {
        RawRows(dir.join(DB_FILE))
    }

    fn execute(&self, sql: &str, params: impl rusqlite::Params) {
        let conn = rusqlite::Connection::open(&self.0).expect("second connection");
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .expect("busy timeout");
        conn.execute(sql, params).expect("raw insert");
    }
}

impl Unreadable for RawRows {
    fn put_unreadable_job(&self, tenant: &str, due_at: DateTime<Utc>) {
        let due = due_at.timestamp_nanos_opt().expect("due time in range");
        self.execute(
            "INSERT INTO jobs (name, tenant, run_id, due_at_ns, seq, scheduled, body) \
             VALUES (?1, ?2, 'unreadable', ?3, 0, 1, '{\"tenant\": 1}')",
            rusqlite::params![format!("unreadable-{tenant}"), tenant, due],
        );
    }

    fn put_unreadable_event(&self) {
        self.execute("INSERT INTO events (body) VALUES ('not json')", []);
    }
}

#[tokio::test]
async fn sqlite_store_passes_the_store_contract() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Db::open(dir.path()).expect("open").store();
    contract::run_all_store(&store, &contract::unique_tenant("sqlite")).await;
}

#[tokio::test]
async fn sqlite_store_passes_the_store_contract_in_memory() {
    let store = Db::open_in_memory().expect("open").store();
    contract::run_all_store(&store, "sqlite-mem").await;
}

#[tokio::test]
async fn sqlite_jobs_pass_the_jobs_contract() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs = Db::open(dir.path()).expect("open").jobs();
    contract::run_all_jobs(
        &jobs,
        &jobs,
        &TakeAndAck(&jobs),
        &contract::unique_tenant("sqlite"),
    )
    .await;
}

#[tokio::test]
async fn sqlite_jobs_pass_the_due_jobs_contract() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path()).expect("open");
    let jobs = db.jobs();
    let raw = RawRows::new(dir.path());
    contract::run_all_due_jobs(
        &jobs,
        &jobs,
        &jobs,
        Some(&raw),
        &contract::unique_tenant("sqlite"),
    )
    .await;
    assert!(
        jobs.is_empty().expect("len"),
        "every check acked what it stored"
    );
    assert_eq!(db.parked().expect("parked"), 1, "the unreadable job");
}

#[tokio::test]
async fn sqlite_events_pass_the_events_contract() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path()).expect("open");
    let events = db.events();
    let raw = RawRows::new(dir.path());
    let tenant = contract::unique_tenant("sqlite");
    contract::run_all_events(&events, &TakeAndAckEvents(&events), &tenant).await;
    contract::run_all_queued_events(&events, &events, Some(&raw), &tenant).await;
    assert!(
        events.is_empty().expect("len"),
        "every check acked what it sent"
    );
    assert_eq!(db.parked().expect("parked"), 1, "the unreadable event");
}

#[tokio::test]
async fn the_contract_holds_again_after_a_reopen_on_a_non_empty_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = contract::unique_tenant("before");
    {
        let db = Db::open(dir.path()).expect("open");
        contract::run_all_store(&db.store(), &first).await;
    }
    let db = Db::open(dir.path()).expect("reopen");
    let store = db.store();
    // The first run's documents are still there.
    let list = store
        .list(&format!("{first}-list"), Kind::Item, "p2")
        .await
        .expect("list");
    assert_eq!(list.len(), 1, "{list:?}");
    contract::run_all_store(&store, &contract::unique_tenant("after")).await;
    let jobs = db.jobs();
    contract::run_all_jobs(
        &jobs,
        &jobs,
        &TakeAndAck(&jobs),
        &contract::unique_tenant("after"),
    )
    .await;
}

#[tokio::test]
async fn writes_survive_a_reopen_between_write_and_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tenant = contract::unique_tenant("reopen");
    let due = Utc.with_ymd_and_hms(2030, 1, 1, 9, 0, 0).unwrap();
    let doc = Doc {
        key: DocKey::new(tenant.as_str(), Kind::Item, "item-1"),
        version: 1,
        parent: Some("stage-1".into()),
        expires_at: Some(4_102_444_800),
        body: json!({ "title": "survives" }),
    };
    let job = |robot: &str| Job {
        tenant: tenant.clone(),
        run_id: format!("item-1:1:{robot}"),
        item_id: "item-1".into(),
        visit: 1,
        due_at: due,
        then: Vec::new(),
    };
    {
        let db = Db::open(dir.path()).expect("open");
        db.store()
            .transact(vec![Write::Put {
                doc: doc.clone(),
                cond: Cond::Absent,
            }])
            .await
            .expect("put");
        db.jobs().send(vec![job("now")]).await.expect("send");
        db.jobs().schedule(job("later")).await.expect("schedule");
        db.jobs()
            .schedule(job("cancelled"))
            .await
            .expect("schedule");
    }
    {
        let db = Db::open(dir.path()).expect("reopen");
        let store = db.store();
        assert_eq!(store.get(&doc.key).await.expect("get"), Some(doc.clone()));
        assert_eq!(
            store
                .list(&tenant, Kind::Item, "stage-1")
                .await
                .expect("list"),
            vec![doc.clone()]
        );
        db.jobs()
            .cancel(&tenant, &job("cancelled").run_id)
            .await
            .expect("cancel");
        // A conditional update against the reopened file.
        let mut next = doc.clone();
        next.version = 2;
        store
            .transact(vec![Write::Put {
                doc: next,
                cond: Cond::Version(1),
            }])
            .await
            .expect("update");
    }
    let db = Db::open(dir.path()).expect("reopen again");
    let got = db.store().get(&doc.key).await.expect("get");
    assert_eq!(got.map(|d| d.version), Some(2));
    let jobs = db.jobs();
    let mut taken = TakeAndAck(&jobs).take_due(due + Duration::minutes(1)).await;
    taken.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    assert_eq!(taken, vec![job("later"), job("now")]);
    assert!(jobs.is_empty().expect("len"));
}

#[tokio::test]
async fn work_taken_but_not_acked_is_offered_again_after_a_reopen() {
    use crm_core::model::QueuedEvent;
    use crm_core::ports::EventQueue;
    use crm_core::work_source::{DueJobs, QueuedEvents};

    let dir = tempfile::tempdir().expect("tempdir");
    let due = Utc.with_ymd_and_hms(2030, 1, 1, 9, 0, 0).unwrap();
    let job = Job {
        tenant: "t-reopen".into(),
        run_id: "item-1:1:robot".into(),
        item_id: "item-1".into(),
        visit: 1,
        due_at: due,
        then: Vec::new(),
    };
    let event = QueuedEvent {
        tenant: "t-reopen".into(),
        event_id: "e-1".into(),
        event_type: "webhook".into(),
        item_id: Some("item-1".into()),
        client: None,
        data: json!({ "n": 1 }),
        occurred_at: due,
        chain: None,
        fan_out: None,
    };
    {
        let db = Db::open(dir.path()).expect("open");
        db.jobs().send(vec![job.clone()]).await.expect("send job");
        db.events().send(event.clone()).await.expect("send event");
        assert_eq!(
            db.jobs().take_due(due, 10).expect("take"),
            vec![job.clone()]
        );
        let taken = db.events().take(10).expect("take");
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].1, event);
        // Crash: nothing acked.
    }
    let db = Db::open(dir.path()).expect("reopen");
    let (jobs, events) = (db.jobs(), db.events());
    assert_eq!(
        DueJobs::take_due(&jobs, due, 10).expect("take"),
        vec![job.clone()],
        "the job is offered again"
    );
    let taken = QueuedEvents::take(&events, 10).expect("take");
    assert_eq!(
        taken.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(),
        vec![event],
        "the event is offered again"
    );
    DueJobs::ack(&jobs, &job).expect("ack job");
    QueuedEvents::ack(&events, taken[0].0).expect("ack event");
    assert_eq!(DueJobs::stored(&jobs).expect("stored"), 0);
    assert_eq!(QueuedEvents::stored(&events).expect("stored"), 0);
}

#[tokio::test]
async fn sqlite_store_pages_every_list() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = std::sync::Arc::new(Db::open(dir.path()).expect("open").store());
    crm_tests::list_contract::run_all_lists(store, &contract::unique_tenant("sqlite")).await;
}

#[tokio::test]
async fn sqlite_store_keeps_audiences() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = std::sync::Arc::new(Db::open(dir.path()).expect("open").store());
    crm_tests::audience_contract::run_all_audiences(store, &contract::unique_tenant("sqlite"))
        .await;
}

#[tokio::test]
async fn sqlite_store_keeps_tracking_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = std::sync::Arc::new(Db::open(dir.path()).expect("open").store());
    crm_tests::tracking_contract::run_all_tracking(store, &contract::unique_tenant("sqlite")).await;
}

#[tokio::test]
async fn sqlite_store_keeps_inbound_addresses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = std::sync::Arc::new(Db::open(dir.path()).expect("open").store());
    crm_tests::inbound_contract::run_all_inbound(store, &contract::unique_tenant("sqlite")).await;
}
