//! The contract suite on the SQLite adapters, plus durability across a reopen.

use chrono::{DateTime, Duration, TimeZone, Utc};
use crm_core::ports::{Cond, Doc, DocKey, DocStore, Job, JobQueue, Kind, Scheduler, Write};
use crm_embedded::{Db, SqliteJobs};
use crm_tests::contract::{self, BoxFuture, DrainJobs};
use serde_json::json;

/// Drains [`SqliteJobs`] the way the local runtime does: `due`, then `ack`.
struct Drain<'a>(&'a SqliteJobs);

impl DrainJobs for Drain<'_> {
    fn take_due(&self, now: DateTime<Utc>) -> BoxFuture<'_, Vec<Job>> {
        Box::pin(async move {
            let mut out = Vec::new();
            loop {
                let batch = self.0.due(now, 16).expect("due");
                if batch.is_empty() {
                    return out;
                }
                for job in batch {
                    self.0.ack(&job).expect("ack");
                    out.push(job);
                }
            }
        })
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
        &Drain(&jobs),
        &contract::unique_tenant("sqlite"),
    )
    .await;
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
        &Drain(&jobs),
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
    let mut taken = Drain(&jobs).take_due(due + Duration::minutes(1)).await;
    taken.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    assert_eq!(taken, vec![job("later"), job("now")]);
    assert!(jobs.is_empty().expect("len"));
}
