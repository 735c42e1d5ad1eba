//! crm-aws against LocalStack (or whatever `AWS_ENDPOINT_URL` points at).
//! Start it first: `infra/localstack.sh start`. These tests fail, not skip,
//! when it is not running.

use chrono::{DateTime, Duration, DurationRound, TimeZone, Utc};
use crm_aws::scheduler::{fire_time, fresh_name};
use crm_aws::testing::{isolated_ports, take_due, teardown, unique_name};
use crm_aws::{AwsPorts, DynamoStore, doc_from_item};
use crm_core::model::QueuedEvent;
use crm_core::ports::{
    Cond, Doc, DocKey, DocStore, EventQueue, Job, JobQueue, Kind, Scheduler, StoreError, Write,
};
use serde_json::json;

async fn ports(test: &str) -> AwsPorts {
    isolated_ports(test)
        .await
        .unwrap_or_else(|e| panic!("LocalStack needed: {e}"))
}

fn doc(tenant: &str, kind: Kind, id: &str, version: u64, parent: Option<&str>) -> Doc {
    Doc {
        key: DocKey::new(tenant, kind, id),
        version,
        parent: parent.map(str::to_owned),
        expires_at: None,
        body: json!({ "id": id, "v": version }),
    }
}

fn put(doc: Doc, cond: Cond) -> Write {
    Write::Put { doc, cond }
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

fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::seconds(1)).unwrap()
}

#[tokio::test]
async fn conflicts_map_to_conflict_and_write_nothing() {
    let p = ports("conflict").await;
    let store = &*p.store;
    let t = unique_name("t");
    let a = doc(&t, Kind::Item, "a", 1, Some("p"));

    let before = p.requests.snapshot();
    store
        .transact(vec![put(a.clone(), Cond::Absent)])
        .await
        .unwrap();
    assert_eq!(
        (p.requests.snapshot() - before).dynamodb,
        1,
        "one TransactWriteItems"
    );

    // Absent on an existing doc: transaction path (doc has a parent).
    match store.transact(vec![put(a.clone(), Cond::Absent)]).await {
        Err(StoreError::Conflict { key }) => assert_eq!(key, a.key.to_string()),
        other => panic!("expected Conflict, got {other:?}"),
    }
    // Single-item path (no parent): PutItem with a condition.
    let solo = doc(&t, Kind::Counter, "c", 1, None);
    let before = p.requests.snapshot();
    store
        .transact(vec![put(solo.clone(), Cond::Absent)])
        .await
        .unwrap();
    assert_eq!(
        (p.requests.snapshot() - before).dynamodb,
        1,
        "one single-item transaction"
    );
    let before = p.requests.snapshot();
    assert!(matches!(
        store
            .transact(vec![put(
                doc(&t, Kind::Counter, "c", 2, None),
                Cond::Version(5)
            )])
            .await,
        Err(StoreError::Conflict { .. })
    ));
    // The failed condition returns the old item: no extra read to classify it.
    // (Conditional single writes are one-item transactions: idempotent retries.)
    assert_eq!((p.requests.snapshot() - before).dynamodb, 1);
    // A failing check makes the whole transaction write nothing.
    let r = store
        .transact(vec![
            put(doc(&t, Kind::Item, "b", 1, Some("p")), Cond::Absent),
            Write::Check {
                key: a.key.clone(),
                cond: Cond::Version(9),
            },
        ])
        .await;
    assert!(
        matches!(r, Err(StoreError::Conflict { ref key }) if *key == a.key.to_string()),
        "{r:?}"
    );
    assert_eq!(
        store.get(&DocKey::new(&t, Kind::Item, "b")).await.unwrap(),
        None
    );
    let ids: Vec<_> = store
        .list(&t, Kind::Item, "p")
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.key.id)
        .collect();
    assert_eq!(ids, ["a"]);
    // Malformed transactions are Invalid before any request.
    let before = p.requests.snapshot();
    let twice = vec![put(a.clone(), Cond::Any), put(a.clone(), Cond::Any)];
    assert!(matches!(
        store.transact(twice).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(p.requests.snapshot(), before);
    teardown(&p).await.unwrap();
}

#[tokio::test]
async fn concurrent_versioned_puts_one_wins() {
    let p = ports("race").await;
    let t = unique_name("t");
    let d = doc(&t, Kind::Item, "x", 1, Some("p"));
    p.store
        .transact(vec![put(d.clone(), Cond::Absent)])
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..8u64 {
        let store = p.store.clone();
        let mut next = d.clone();
        next.version = 2;
        next.body = json!({ "writer": i });
        tasks.push(tokio::spawn(async move {
            store.transact(vec![put(next, Cond::Version(1))]).await
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => ok += 1,
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(ok, 1, "exactly one writer wins");
    let stored = p.store.get(&d.key).await.unwrap().unwrap();
    assert_eq!(stored.version, 2);
    let listed = p.store.list(&t, Kind::Item, "p").await.unwrap();
    assert_eq!(listed, vec![stored], "list entry and primary record agree");
    teardown(&p).await.unwrap();
}

#[tokio::test]
async fn list_reads_its_writes_across_pages() {
    let p = ports("list").await;
    let store =
        DynamoStore::new(p.clients.dynamodb.clone(), p.config.table.clone()).with_page_limit(4);
    let t = unique_name("t");
    let mut ids: Vec<String> = (0..23).map(|i| format!("run-{i:02}")).collect();
    ids.extend(["A", "a", "é", "_z"].map(str::to_owned));
    for chunk in ids.chunks(10) {
        let writes = chunk
            .iter()
            .map(|id| put(doc(&t, Kind::Run, id, 1, Some("item-1")), Cond::Absent))
            .collect();
        store.transact(writes).await.unwrap();
    }
    store
        .transact(vec![put(
            doc(&t, Kind::Run, "other", 1, Some("item-2")),
            Cond::Absent,
        )])
        .await
        .unwrap();

    let before = p.requests.snapshot();
    let listed = store.list(&t, Kind::Run, "item-1").await.unwrap();
    let pages = (p.requests.snapshot() - before).dynamodb;
    assert!(pages >= 7, "27 entries, 4 per page: {pages} queries");
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(
        listed.iter().map(|d| d.key.id.clone()).collect::<Vec<_>>(),
        expected,
        "byte order"
    );
    assert!(
        listed
            .iter()
            .all(|d| d.parent.as_deref() == Some("item-1") && d.version == 1)
    );

    // Read-your-writes: update, move to another parent, delete.
    store
        .transact(vec![put(
            doc(&t, Kind::Run, "run-05", 2, Some("item-1")),
            Cond::Version(1),
        )])
        .await
        .unwrap();
    store
        .transact(vec![put(
            doc(&t, Kind::Run, "run-06", 2, Some("item-2")),
            Cond::Version(1),
        )])
        .await
        .unwrap();
    store
        .transact(vec![Write::Delete {
            key: DocKey::new(&t, Kind::Run, "run-07"),
            parent: Some("item-1".into()),
            cond: Cond::Version(1),
        }])
        .await
        .unwrap();
    let listed = store.list(&t, Kind::Run, "item-1").await.unwrap();
    assert_eq!(listed.len(), ids.len() - 2);
    assert_eq!(
        listed
            .iter()
            .find(|d| d.key.id == "run-05")
            .map(|d| d.version),
        Some(2)
    );
    assert!(
        !listed
            .iter()
            .any(|d| d.key.id == "run-06" || d.key.id == "run-07")
    );
    let moved: Vec<_> = store
        .list(&t, Kind::Run, "item-2")
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.key.id)
        .collect();
    assert_eq!(moved, ["other", "run-06"]);
    teardown(&p).await.unwrap();
}

#[tokio::test]
async fn parent_changes_and_wrong_parents_cost_a_retry_not_a_stale_entry() {
    let p = ports("parent").await;
    let store = &*p.store;
    let t = unique_name("t");
    store
        .transact(vec![put(
            doc(&t, Kind::Task, "k", 1, Some("u1")),
            Cond::Absent,
        )])
        .await
        .unwrap();

    // Unconditional put under another parent: guard fails once, then fixed.
    let before = p.requests.snapshot();
    store
        .transact(vec![put(
            doc(&t, Kind::Task, "k", 2, Some("u2")),
            Cond::Any,
        )])
        .await
        .unwrap();
    assert_eq!(
        (p.requests.snapshot() - before).dynamodb,
        2,
        "failed guard + retry"
    );
    assert!(store.list(&t, Kind::Task, "u1").await.unwrap().is_empty());
    assert_eq!(store.list(&t, Kind::Task, "u2").await.unwrap().len(), 1);

    // Dropping the parent (single PutItem path).
    store
        .transact(vec![put(
            doc(&t, Kind::Task, "k", 3, None),
            Cond::Version(2),
        )])
        .await
        .unwrap();
    assert!(store.list(&t, Kind::Task, "u2").await.unwrap().is_empty());

    // A delete naming the wrong parent still removes the real list entry.
    store
        .transact(vec![put(
            doc(&t, Kind::Task, "k", 4, Some("u3")),
            Cond::Version(3),
        )])
        .await
        .unwrap();
    store
        .transact(vec![Write::Delete {
            key: DocKey::new(&t, Kind::Task, "k"),
            parent: Some("wrong".into()),
            cond: Cond::Any,
        }])
        .await
        .unwrap();
    assert!(store.list(&t, Kind::Task, "u3").await.unwrap().is_empty());
    assert_eq!(
        store.get(&DocKey::new(&t, Kind::Task, "k")).await.unwrap(),
        None
    );
    teardown(&p).await.unwrap();
}

#[tokio::test]
async fn get_many_batches_and_dedupes() {
    let p = ports("getmany").await;
    let store = &*p.store;
    let t = unique_name("t");
    for chunk in (0..130).collect::<Vec<_>>().chunks(50) {
        let writes = chunk
            .iter()
            .map(|i| {
                put(
                    doc(&t, Kind::Activity, &format!("a{i}"), 1, None),
                    Cond::Absent,
                )
            })
            .collect();
        store.transact(writes).await.unwrap();
    }
    let mut keys: Vec<DocKey> = (0..130)
        .rev()
        .map(|i| DocKey::new(&t, Kind::Activity, format!("a{i}")))
        .collect();
    keys.push(DocKey::new(&t, Kind::Activity, "missing"));
    keys.push(DocKey::new(&t, Kind::Activity, "a7"));
    let before = p.requests.snapshot();
    let got = store.get_many(&keys).await.unwrap();
    assert_eq!(
        (p.requests.snapshot() - before).dynamodb,
        2,
        "131 distinct keys = 2 BatchGetItem"
    );
    assert_eq!(got.len(), keys.len());
    for (k, d) in keys.iter().zip(&got) {
        match d {
            Some(d) => assert_eq!(&d.key, k),
            None => assert_eq!(k.id, "missing"),
        }
    }
    teardown(&p).await.unwrap();
}

#[tokio::test]
async fn stored_items_decode_like_stream_images() {
    let p = ports("stream").await;
    let t = unique_name("t");
    let mut d = doc(
        &t,
        Kind::Outbox,
        "o-1",
        1,
        Some(crm_core::ports::SYSTEM_TENANT),
    );
    d.expires_at = Some(4_102_444_800);
    p.store
        .transact(vec![put(d.clone(), Cond::Absent)])
        .await
        .unwrap();
    let item = p
        .clients
        .dynamodb
        .get_item()
        .table_name(&p.config.table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(crm_aws::dynamo::primary_pk(&d.key)),
        )
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("_".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(doc_from_item(&item), Some(d.clone()));
    // The same item in DynamoDB JSON, as a stream record's NewImage carries it.
    let image: serde_json::Map<String, serde_json::Value> = item
        .iter()
        .map(|(k, v)| {
            let v = match v {
                aws_sdk_dynamodb::types::AttributeValue::S(s) => json!({ "S": s }),
                aws_sdk_dynamodb::types::AttributeValue::N(n) => json!({ "N": n }),
                other => panic!("unexpected attribute {other:?}"),
            };
            (k.clone(), v)
        })
        .collect();
    assert_eq!(crm_aws::doc_from_stream_image(&image), Some(d));
    teardown(&p).await.unwrap();
}

#[tokio::test]
async fn schedules_are_idempotent_and_listed_when_due() {
    let p = ports("sched").await;
    let t = unique_name("t");
    let due = whole_second(Utc::now() + Duration::days(3));
    let j = job(&t, "later", due);

    let before = p.requests.snapshot();
    p.scheduler.schedule(j.clone()).await.unwrap();
    p.scheduler.schedule(j.clone()).await.unwrap();
    assert_eq!(
        (p.requests.snapshot() - before).scheduler,
        3,
        "one CreateSchedule each; the repeat's name is taken, so a GetSchedule proves it is the same"
    );

    let all = p.scheduler.list_all().await.unwrap();
    assert_eq!(all.len(), 1, "scheduling twice keeps one schedule: {all:?}");
    assert_eq!(all[0].name, j.schedule_name());
    // Fires in the minute before the due time's minute: [due-120 s, due-1 s].
    assert_eq!(all[0].fire_at, fire_time(due));
    assert!(all[0].fire_at + Duration::seconds(59) < due);
    assert_eq!(all[0].job, j);
    // The raw schedule: at() in UTC, target input = Job JSON, delete after completion.
    let raw = p
        .clients
        .scheduler
        .get_schedule()
        .group_name(&p.config.schedule_group)
        .name(j.schedule_name())
        .send()
        .await
        .unwrap();
    assert_eq!(
        raw.schedule_expression(),
        Some(crm_aws::scheduler::at_expression(fire_time(due)).as_str())
    );
    assert_eq!(raw.schedule_expression_timezone(), Some("UTC"));
    let target = raw.target().unwrap();
    assert_eq!(target.arn(), p.config.robot_queue_arn, "the robot queue");
    assert_eq!(
        serde_json::from_str::<Job>(target.input().unwrap()).unwrap(),
        j
    );
    assert_eq!(
        target.dead_letter_config().and_then(|d| d.arn()),
        Some(p.config.schedule_dlq_arn.as_str())
    );

    assert!(
        p.scheduler
            .list_due(due - Duration::seconds(1))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        p.scheduler.list_due(due).await.unwrap(),
        vec![(j.schedule_name(), j.clone())]
    );

    p.scheduler.cancel(&t, &j.run_id).await.unwrap();
    p.scheduler.cancel(&t, &j.run_id).await.unwrap();
    assert!(
        p.scheduler
            .list_due(due + Duration::days(1))
            .await
            .unwrap()
            .is_empty()
    );
    p.scheduler.delete("run-never-existed").await.unwrap();
    teardown(&p).await.unwrap();
}

#[tokio::test]
async fn a_taken_name_is_never_read_as_already_scheduled_and_soon_means_the_queue() {
    let p = ports("names").await;
    let t = unique_name("t");
    let due = whole_second(Utc::now() + Duration::days(3));
    let first = job(&t, "later", due);
    p.scheduler.schedule(first.clone()).await.unwrap();
    // The same run, another due time: the first name is taken by a schedule
    // that delivers something else, so a fresh name is used.
    let moved = Job {
        due_at: due + Duration::hours(5),
        ..first.clone()
    };
    p.scheduler.schedule(moved.clone()).await.unwrap();
    let all = p.scheduler.list_all().await.unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    let fresh = all
        .iter()
        .find(|s| s.job == moved)
        .expect("the moved job is scheduled");
    assert_eq!(fresh.name, fresh_name(&moved, fire_time(moved.due_at), 1));
    assert_eq!(fresh.fire_at, fire_time(moved.due_at));
    // Scheduling it again finds it provably there (same job, same fire time).
    p.scheduler.schedule(moved.clone()).await.unwrap();
    assert_eq!(p.scheduler.list_all().await.unwrap().len(), 2);

    // Due within 15 minutes: no schedule, a delayed message on the robot queue.
    let soon = job(&t, "soon", Utc::now() + Duration::minutes(10));
    let before = p.requests.snapshot();
    p.scheduler.schedule(soon).await.unwrap();
    let spent = p.requests.snapshot() - before;
    assert_eq!((spent.scheduler, spent.sqs), (0, 1), "{spent}");
    assert_eq!(p.jobs.queue().delayed_count().await.unwrap(), 1);
    assert!(
        p.jobs
            .queue()
            .receive::<Job>(10, 0)
            .await
            .unwrap()
            .is_empty()
    );
    teardown(&p).await.unwrap();
}

#[tokio::test]
async fn queues_deliver_job_and_event_json() {
    let p = ports("queues").await;
    let t = unique_name("t");
    let now = whole_second(Utc::now());
    let jobs: Vec<Job> = (0..23).map(|i| job(&t, &format!("r{i:02}"), now)).collect();
    let before = p.requests.snapshot();
    p.jobs.send(jobs.clone()).await.unwrap();
    p.jobs.send(Vec::new()).await.unwrap();
    assert_eq!(
        (p.requests.snapshot() - before).sqs,
        3,
        "23 jobs = 3 SendMessageBatch"
    );

    let later = job(&t, "later", now + Duration::hours(1));
    p.jobs.send(vec![later]).await.unwrap();
    let mut got = take_due(&p, now).await.unwrap();
    got.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    assert_eq!(got, jobs, "each due job once");
    // Due in an hour: SQS holds it as long as it can (15 minutes; the
    // runner defers the rest), so it is not receivable now.
    assert_eq!(p.jobs.queue().delayed_count().await.unwrap(), 1);
    assert!(
        take_due(&p, now + Duration::hours(1))
            .await
            .unwrap()
            .is_empty(),
        "the later job is delayed on the queue"
    );
    assert!(
        take_due(&p, now + Duration::days(9))
            .await
            .unwrap()
            .is_empty()
    );

    let event = QueuedEvent {
        tenant: t.clone(),
        event_id: "e-1".into(),
        event_type: "webhook".into(),
        item_id: Some("item-1".into()),
        client: None,
        data: json!({ "k": [1, 2] }),
        occurred_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
        chain: None,
        fan_out: None,
    };
    p.events.send(event.clone()).await.unwrap();
    let received = p
        .events
        .queue()
        .receive::<QueuedEvent>(10, 1)
        .await
        .unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body, event);
    p.events
        .queue()
        .ack(&[received[0].receipt_handle.clone()])
        .await
        .unwrap();
    teardown(&p).await.unwrap();
}

#[tokio::test]
async fn provisioning_is_idempotent() {
    // The default names a developer's shell uses (infra/bootstrap-localstack.sh
    // may have created them already, with the CLI).
    let base = crm_aws::testing::base_config().unwrap();
    let first = crm_aws::provision::ensure_resources(&base).await.unwrap();
    assert_eq!(
        crm_aws::provision::ensure_resources(&base).await.unwrap(),
        first
    );
    assert!(first.stream_arn.is_some(), "the table has a stream");

    let p = ports("provision").await;
    let again = crm_aws::provision::ensure_resources(&p.config)
        .await
        .unwrap();
    let twice = crm_aws::provision::ensure_resources(&p.config)
        .await
        .unwrap();
    assert_eq!(again, twice);
    assert!(again.robot_dlq_url.ends_with("-robot-dlq"), "{again:?}");
    let attrs = p
        .clients
        .sqs
        .get_queue_attributes()
        .queue_url(&p.config.robot_queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    use aws_sdk_sqs::types::QueueAttributeName as A;
    assert_eq!(
        attrs.get(&A::VisibilityTimeout).map(String::as_str),
        Some("180")
    );
    assert!(
        attrs
            .get(&A::RedrivePolicy)
            .is_some_and(|r| r.contains("-robot-dlq")),
        "{attrs:?}"
    );
    teardown(&p).await.unwrap();
}

/// The raw attributes of a record of `d` at (`pk`, `sk`), as the adapter
/// wrote them before runs were stored once (body as JSON text).
fn raw_record(
    d: &Doc,
    pk: String,
    sk: &str,
) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    use aws_sdk_dynamodb::types::AttributeValue::{N, S};
    [
        ("pk", S(pk)),
        ("sk", S(sk.to_owned())),
        ("tenant", S(d.key.tenant.clone())),
        ("kind", S(d.key.kind.as_str().to_owned())),
        ("id", S(d.key.id.clone())),
        ("version", N(d.version.to_string())),
        ("parent", S(d.parent.clone().unwrap_or_default())),
        ("body", S(d.body.to_string())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

#[tokio::test]
async fn runs_are_stored_once_and_runs_written_before_are_read_updated_and_deleted() {
    use crm_aws::dynamo::{list_pk, primary_pk};
    let p = ports("once").await;
    let store = &*p.store;
    let db = &p.clients.dynamodb;
    let t = unique_name("t");
    let item_id = "item-1";
    let run = |id: &str, v: u64| doc(&t, Kind::Run, id, v, Some(item_id));
    let raw_put = |d: Doc, pk: String, sk: &'static str| {
        let req = db
            .put_item()
            .table_name(&p.config.table)
            .set_item(Some(raw_record(&d, pk, sk)));
        async move { req.send().await.expect("raw put") }
    };
    let exists = |pk: String, sk: String| {
        let req = db
            .get_item()
            .table_name(&p.config.table)
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk))
            .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(sk))
            .consistent_read(true);
        async move { req.send().await.expect("raw get").item.is_some() }
    };
    let primary = |id: &str| (primary_pk(&DocKey::new(&t, Kind::Run, id)), "_".to_owned());
    let entry = |id: &str| (list_pk(&t, Kind::Run, item_id), id.to_owned());

    // A new run: one item, its list entry; a put of it alone is a PutItem.
    let new = "item-1:2:robot-new";
    let before = p.requests.snapshot();
    store
        .transact(vec![put(run(new, 1), Cond::Absent)])
        .await
        .unwrap();
    assert_eq!((p.requests.snapshot() - before).dynamodb, 1);
    let (pk, sk) = entry(new);
    assert!(exists(pk, sk).await, "the list entry");
    let (pk, sk) = primary(new);
    assert!(!exists(pk, sk).await, "no primary record");
    assert_eq!(
        store.get(&run(new, 1).key).await.unwrap(),
        Some(run(new, 1))
    );

    // Written before the change: a primary record and its list entry.
    let both = "item-1:1:robot-both";
    raw_put(run(both, 1), primary(both).0, "_").await;
    raw_put(run(both, 1), entry(both).0, both).await;
    // Written before the change, its list entry gone (expired first).
    let alone = "item-1:1:robot-alone";
    raw_put(run(alone, 1), primary(alone).0, "_").await;

    assert_eq!(
        store.get(&run(both, 1).key).await.unwrap(),
        Some(run(both, 1))
    );
    assert_eq!(
        store.get(&run(alone, 1).key).await.unwrap(),
        Some(run(alone, 1))
    );
    let keys = [run(alone, 1).key, run(both, 1).key, run(new, 1).key];
    assert_eq!(
        store.get_many(&keys).await.unwrap(),
        vec![Some(run(alone, 1)), Some(run(both, 1)), Some(run(new, 1))]
    );
    let listed: Vec<String> = store
        .list(&t, Kind::Run, item_id)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.key.id)
        .collect();
    assert_eq!(listed, [both, new]);

    // Versioned writes find them: the old record is replaced by its entry.
    for id in [both, alone] {
        match store
            .transact(vec![put(run(id, 3), Cond::Version(2))])
            .await
        {
            Err(StoreError::Conflict { .. }) => {}
            other => panic!("{id}: expected Conflict, got {other:?}"),
        }
        store
            .transact(vec![put(run(id, 2), Cond::Version(1))])
            .await
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(store.get(&run(id, 2).key).await.unwrap(), Some(run(id, 2)));
        match store
            .transact(vec![put(run(id, 2), Cond::Version(1))])
            .await
        {
            Err(StoreError::Conflict { .. }) => {}
            other => panic!("{id}: expected Conflict after the update, got {other:?}"),
        }
    }
    let (pk, sk) = primary(alone);
    assert!(!exists(pk, sk).await, "moved to its entry");

    // Deleted, with a condition: no record is left to be read.
    let gone = "item-1:1:robot-gone";
    raw_put(run(gone, 1), primary(gone).0, "_").await;
    let del = |id: &str, cond| Write::Delete {
        key: DocKey::new(&t, Kind::Run, id),
        parent: Some(item_id.to_owned()),
        cond,
    };
    store
        .transact(vec![del(gone, Cond::Version(1))])
        .await
        .unwrap();
    store
        .transact(vec![del(both, Cond::Version(2))])
        .await
        .unwrap();
    for id in [gone, both] {
        assert_eq!(store.get(&run(id, 1).key).await.unwrap(), None, "{id}");
        let (pk, sk) = primary(id);
        assert!(!exists(pk, sk).await, "{id}: primary record deleted");
    }
    teardown(&p).await.unwrap();
}
