//! The handler on realistic DynamoDB Streams events, against the engine on
//! in-memory ports.

use super::*;
use aws_lambda_events::event::dynamodb::Event;
use crm_aws::dynamo::{SK_PRIMARY, list_pk, primary_pk};
use crm_core::memory::MemRuntime;
use crm_core::model::RunStatus;
use crm_core::ports::{Doc, DocKey, SYSTEM_TENANT};
use crm_core::testing::{
    MONDAY_1144_MSK, TENANT as T, body, company_runtime, plain_deal, settled_item,
};
use lambda_runtime::Context;
use serde_json::{Value, json};

/// The standard company (`crm_core::testing`), an immediate and a delayed
/// robot on `won`.
async fn runtime() -> MemRuntime {
    let rt = company_runtime(MONDAY_1144_MSK).await;
    let e = &rt.engine;
    e.create_robot(
        T,
        "deals",
        body(
            json!({"stage_id": "won", "type": "add_timeline_comment", "name": "Congratulate",
            "settings": {"text": "won {{title}}"}}),
        ),
    )
    .await
    .unwrap();
    e.create_robot(
        T,
        "deals",
        body(
            json!({"stage_id": "won", "type": "add_timeline_comment", "name": "Follow up",
            "delay": {"mode": "after", "amount": 1, "unit": "hours"},
            "settings": {"text": "follow up {{title}}"}}),
        ),
    )
    .await
    .unwrap();
    rt
}

/// Deals created in `new` (their creation fully processed), then moved to
/// `won` without processing the moves: the moves' outbox records are pending.
async fn moved_deals(rt: &MemRuntime, titles: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for title in titles {
        ids.push(created_deal(rt, title).await);
    }
    for id in &ids {
        rt.engine
            .patch_item(T, id, body(json!({"stage_id": "won"})), None)
            .await
            .unwrap();
    }
    ids
}

/// One deal moved to `won`, the move pending (see [`moved_deals`]).
async fn moved_deal(rt: &MemRuntime, title: &str) -> String {
    moved_deals(rt, &[title]).await.remove(0)
}

/// A deal created in `new`, its creation fully processed.
async fn created_deal(rt: &MemRuntime, title: &str) -> String {
    settled_item(rt, plain_deal(title)).await.id
}

/// The attributes DynamoStore writes for `doc`, in DynamoDB JSON, under the
/// given keys.
fn attributes(doc: &Doc, pk: String, sk: &str) -> Value {
    let mut m = json!({
        "pk": {"S": pk}, "sk": {"S": sk},
        "tenant": {"S": doc.key.tenant}, "kind": {"S": doc.key.kind.as_str()},
        "id": {"S": doc.key.id}, "version": {"N": doc.version.to_string()},
        "body": {"S": serde_json::to_string(&doc.body).unwrap()}
    });
    if let Some(p) = &doc.parent {
        m["parent"] = json!({"S": p});
    }
    m
}

/// The primary record of `doc`.
fn primary(doc: &Doc) -> Value {
    attributes(doc, primary_pk(&doc.key), SK_PRIMARY)
}

/// The list entry of `doc` (under its parent).
fn list_entry(doc: &Doc) -> Value {
    let parent = doc.parent.as_deref().unwrap();
    attributes(
        doc,
        list_pk(&doc.key.tenant, doc.key.kind, parent),
        &doc.key.id,
    )
}

/// A stream record as Lambda delivers it (`NEW_IMAGE` view).
fn record(name: &str, seq: u64, image: Option<Value>) -> Value {
    let keys = image.as_ref().map_or_else(
        || json!({"pk": {"S": "x"}, "sk": {"S": SK_PRIMARY}}),
        |i| json!({"pk": i["pk"], "sk": i["sk"]}),
    );
    let mut dynamodb = json!({
        "ApproximateCreationDateTime": 1_763_887_440,
        "Keys": keys,
        "SequenceNumber": seq.to_string(),
        "SizeBytes": 256,
        "StreamViewType": "NEW_IMAGE"
    });
    if let Some(i) = image {
        dynamodb["NewImage"] = i;
    }
    json!({
        "eventID": format!("evt-{seq}"),
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": dynamodb,
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/crm-docs/stream/2026-11-23T00:00:00.000"
    })
}

fn event(records: Vec<Value>) -> LambdaEvent<Event> {
    let payload: Event = serde_json::from_value(json!({ "Records": records })).unwrap();
    LambdaEvent::new(payload, Context::default())
}

fn failures(r: &DynamoDbEventResponse) -> Vec<String> {
    r.batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap_or_default())
        .collect()
}

/// Every pending outbox row as an `INSERT` record, numbered from `first`.
async fn pending_records(rt: &MemRuntime, first: u64) -> Vec<Value> {
    rt.engine
        .pending_outbox()
        .await
        .unwrap()
        .iter()
        .zip(first..)
        .map(|(d, seq)| record("INSERT", seq, Some(primary(d))))
        .collect()
}

async fn doc(rt: &MemRuntime, kind: Kind, id: &str) -> Doc {
    rt.engine
        .ports()
        .store
        .get(&DocKey::new(T, kind, id))
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn processes_the_outbox_insert_and_skips_everything_else() {
    let rt = runtime().await;
    let item_id = moved_deal(&rt, "Website").await;
    let pending = rt.engine.pending_outbox().await.unwrap();
    assert_eq!(pending.len(), 1, "{pending:#?}");
    let outbox = &pending[0];
    assert_eq!(outbox.key.tenant, SYSTEM_TENANT);
    let item = doc(&rt, Kind::Item, &item_id).await;
    let (sent, scheduled, _) = rt.jobs.counters();

    let response = handler(
        &rt.engine,
        event(vec![
            record("MODIFY", 100, Some(primary(&item))),
            record("INSERT", 101, Some(list_entry(outbox))),
            record("INSERT", 102, Some(primary(outbox))),
            // An outbox record modified or removed is not a new record.
            record("MODIFY", 103, Some(primary(outbox))),
            record("REMOVE", 104, None),
        ]),
    )
    .await
    .unwrap();

    assert!(response.batch_item_failures.is_empty());
    assert!(rt.engine.pending_outbox().await.unwrap().is_empty());
    // One immediate robot queued, one delayed robot scheduled: once each.
    assert_eq!(rt.jobs.counters(), (sent + 1, scheduled + 1, 0));
    let runs = rt.engine.runs(T, &item_id).await.unwrap();
    assert_eq!(
        runs.iter()
            .filter(|r| r.status == RunStatus::Pending && r.stage_id == "won")
            .count(),
        2,
        "{runs:#?}"
    );
}

#[tokio::test]
async fn a_redelivered_batch_has_one_effect() {
    let rt = runtime().await;
    let item_id = moved_deal(&rt, "Website").await;
    let outbox = rt.engine.pending_outbox().await.unwrap().remove(0);
    let batch = || event(vec![record("INSERT", 7, Some(primary(&outbox)))]);

    for _ in 0..2 {
        let response = handler(&rt.engine, batch()).await.unwrap();
        assert!(response.batch_item_failures.is_empty());
    }
    rt.advance(chrono::Duration::hours(2)).await.unwrap();

    let runs = rt.engine.runs(T, &item_id).await.unwrap();
    let done: Vec<_> = runs
        .iter()
        .filter(|r| r.stage_id == "won" && r.status == RunStatus::Done)
        .collect();
    assert_eq!(done.len(), 2, "{runs:#?}");
    let comments = rt
        .engine
        .timeline(T, &item_id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| serde_json::to_string(e).unwrap().contains("won Website"))
        .count();
    assert_eq!(comments, 1);
}

/// A batch with rows of two items where one item's first row fails: the
/// other item's row is processed, the failed item's later row is not (its
/// order is kept), and both of the failed item's rows are reported, the
/// failed one lowest, so Lambda retries from it.
#[tokio::test]
async fn a_failed_row_holds_back_its_items_later_rows_only() {
    let rt = runtime().await;
    let ids = moved_deals(&rt, &["First", "Second"]).await;
    let pending = rt.engine.pending_outbox().await.unwrap();
    assert_eq!(pending.len(), 2);
    let of = |id: &str| {
        pending
            .iter()
            .find(|d| d.key.id.contains(id))
            .cloned()
            .unwrap()
    };
    let (first, second) = (of(&ids[0]), of(&ids[1]));
    // A row of the first item that cannot be processed.
    let corrupt = Doc {
        key: DocKey::new(
            SYSTEM_TENANT,
            Kind::Outbox,
            format!("{T}|{}|corrupt", ids[0]),
        ),
        version: 1,
        parent: Some("pending".into()),
        expires_at: None,
        body: json!({"type": "no_such_record", "record": {"tenant": T, "item_id": ids[0]}}),
    };
    let (sent, _, _) = rt.jobs.counters();

    let response = handler(
        &rt.engine,
        event(vec![
            record("INSERT", 300, Some(primary(&corrupt))),
            record("INSERT", 301, Some(primary(&second))),
            record("INSERT", 302, Some(primary(&first))),
        ]),
    )
    .await
    .unwrap();

    assert_eq!(failures(&response), ["300", "302"]);
    let left = rt.engine.pending_outbox().await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].key, first.key, "the failed item's later row waits");
    assert_eq!(
        rt.jobs.counters().0,
        sent + 1,
        "the other item's row was processed"
    );
}

#[tokio::test]
async fn a_near_deadline_starts_nothing_and_reports_every_record() {
    let rt = runtime().await;
    moved_deals(&rt, &["First", "Second"]).await;
    let pending = rt.engine.pending_outbox().await.unwrap();
    let mut ctx = Context::default();
    // One second left: inside the reserve, so nothing may start.
    let deadline = std::time::SystemTime::now() + std::time::Duration::from_secs(1);
    ctx.deadline = u64::try_from(
        deadline
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let payload = event(vec![
        record("INSERT", 400, Some(primary(&pending[0]))),
        record("INSERT", 401, Some(primary(&pending[1]))),
    ])
    .payload;
    let (sent, scheduled, _) = rt.jobs.counters();

    let response = handler(&rt.engine, LambdaEvent::new(payload, ctx))
        .await
        .unwrap();

    assert_eq!(failures(&response), ["400", "401"]);
    assert_eq!(rt.engine.pending_outbox().await.unwrap().len(), 2);
    assert_eq!(rt.jobs.counters(), (sent, scheduled, 0));
}

#[test]
fn tells_a_sweep_request_from_a_stream_batch() {
    let sweep: Invocation = serde_json::from_value(json!({"sweep": true})).unwrap();
    assert!(matches!(
        sweep,
        Invocation::Sweep(SweepRequest { sweep: true })
    ));
    let batch: Invocation = serde_json::from_value(json!({
        "Records": [record("INSERT", 1, None)]
    }))
    .unwrap();
    assert!(matches!(batch, Invocation::Stream(e) if e.records.len() == 1));
    assert!(serde_json::from_value::<Invocation>(json!({"sweep": "yes"})).is_err());
}

#[test]
fn recognises_only_new_outbox_primary_records() {
    let outbox = Doc {
        key: DocKey::new(SYSTEM_TENANT, Kind::Outbox, "acme|x"),
        version: 1,
        parent: Some("pending".into()),
        expires_at: None,
        body: json!({}),
    };
    let parse = |v: Value| -> EventRecord { serde_json::from_value(v).unwrap() };
    assert_eq!(
        outbox_doc(&parse(record("INSERT", 1, Some(primary(&outbox))))),
        Some(outbox.clone())
    );
    assert_eq!(
        outbox_doc(&parse(record("INSERT", 2, Some(list_entry(&outbox))))),
        None
    );
    assert_eq!(
        outbox_doc(&parse(record("MODIFY", 3, Some(primary(&outbox))))),
        None
    );
    assert_eq!(outbox_doc(&parse(record("REMOVE", 4, None))), None);
    let item = Doc {
        key: DocKey::new(T, Kind::Item, "item-1"),
        ..outbox
    };
    assert_eq!(
        outbox_doc(&parse(record("INSERT", 5, Some(primary(&item))))),
        None
    );
}

/// A store that counts how many stage changes are being processed at once:
/// listing an item's runs (the first step of processing its move) enters,
/// yields to the other tasks, and leaves.
struct InFlight {
    inner: std::sync::Arc<dyn crm_core::ports::DocStore>,
    now: std::sync::atomic::AtomicUsize,
    max: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl crm_core::ports::DocStore for InFlight {
    async fn get(&self, key: &DocKey) -> Result<Option<Doc>, crm_core::ports::StoreError> {
        self.inner.get(key).await
    }
    async fn list(
        &self,
        tenant: &str,
        kind: Kind,
        parent: &str,
    ) -> Result<Vec<Doc>, crm_core::ports::StoreError> {
        use std::sync::atomic::Ordering::SeqCst;
        if kind == Kind::Run {
            let now = self.now.fetch_add(1, SeqCst) + 1;
            self.max.fetch_max(now, SeqCst);
            for _ in 0..4 {
                tokio::task::yield_now().await;
            }
            self.now.fetch_sub(1, SeqCst);
        }
        self.inner.list(tenant, kind, parent).await
    }
    async fn transact(
        &self,
        writes: Vec<crm_core::ports::Write>,
    ) -> Result<(), crm_core::ports::StoreError> {
        self.inner.transact(writes).await
    }
}

/// The records of different items run concurrently, at most
/// `GROUP_CONCURRENCY` at once; one item's records never overlap.
#[tokio::test]
async fn items_run_concurrently_within_the_bound() {
    use std::sync::atomic::Ordering::SeqCst;
    let rt = runtime().await;
    let titles: Vec<String> = (0..20).map(|n| format!("Deal {n}")).collect();
    let titles: Vec<&str> = titles.iter().map(String::as_str).collect();
    let ids = moved_deals(&rt, &titles).await;
    let store = std::sync::Arc::new(InFlight {
        inner: rt.engine.ports().store.clone(),
        now: Default::default(),
        max: Default::default(),
    });
    let mut ports = rt.engine.ports().clone();
    ports.store = store.clone();
    let engine = Engine::new(ports, rt.engine.config().clone());
    let records = pending_records(&rt, 500).await;

    let response = handler(&engine, event(records)).await.unwrap();

    assert!(response.batch_item_failures.is_empty());
    assert_eq!(store.max.load(SeqCst), ordered::GROUP_CONCURRENCY);
    for id in &ids {
        assert_eq!(
            rt.engine
                .runs(T, id)
                .await
                .unwrap()
                .iter()
                .filter(|r| r.stage_id == "won")
                .count(),
            2
        );
    }

    // Two moves of one item in one batch: processed one after the other.
    let one = moved_deal(&rt, "Twice").await;
    rt.engine
        .patch_item(T, &one, body(json!({"stage_id": "lost"})), None)
        .await
        .unwrap();
    store.max.store(0, SeqCst);
    let records = pending_records(&rt, 600).await;
    let response = handler(&engine, event(records)).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(store.max.load(SeqCst), 1);
}
