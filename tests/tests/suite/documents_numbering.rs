//! Numbers are unique and gap-free under concurrency: 50 deals enter a
//! stage with a `create_document` robot at once and their runs execute in
//! parallel (one task each, claims on, as concurrent Lambdas would), on the
//! embedded store (SQLite) and on DynamoDB (LocalStack). Every run takes its
//! number with a conditional write of the rule's counter in the transaction
//! that commits the document: the documents are numbered 1..=50, each once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use crm_core::hooked_store::{HookedStore, TransactHook};
use crm_core::ports::{StoreError, Write};

use crm_core::api::NewItem;
use crm_core::documents::NumeratorBody;
use crm_core::documents::sample;
use crm_core::memory::{ManualClock, MemDelivery, MemEvents, MemJobs};
use crm_core::memory_blobs::MemoryBlobs;
use crm_core::ports::{Clock as _, DocStore, Ports};
use crm_core::system::TimeOrderedIds;
use crm_core::testing::{MONDAY_1144_MSK, at, body};
use crm_core::{Engine, EngineConfig, RunOutcome};
use serde_json::json;

const ITEMS: usize = 50;

/// The hook of the store under test, counting the transactions that lost a
/// race (the proof that the runs did run at the same time).
struct Counting {
    conflicts: AtomicUsize,
}

#[async_trait]
impl TransactHook for Counting {
    async fn transact(&self, inner: &dyn DocStore, writes: Vec<Write>) -> Result<(), StoreError> {
        let r = inner.transact(writes).await;
        if matches!(r, Err(StoreError::Conflict { .. })) {
            self.conflicts.fetch_add(1, Ordering::Relaxed);
        }
        r
    }
}

/// Returns how many commits lost a race on the way.
async fn fifty_concurrent_documents_are_numbered_1_to_50(
    store: Arc<dyn DocStore>,
    tenant: &str,
) -> usize {
    let store = Arc::new(HookedStore::new(
        store,
        Counting {
            conflicts: AtomicUsize::new(0),
        },
    ));
    let clock = Arc::new(ManualClock::new(at(MONDAY_1144_MSK)));
    let jobs = Arc::new(MemJobs::new());
    let engine = Arc::new(Engine::new(
        Ports {
            store: store.clone(),
            jobs: jobs.clone(),
            scheduler: jobs.clone(),
            events: Arc::new(MemEvents::new()),
            delivery: Arc::new(MemDelivery::new()),
            clock: clock.clone(),
            ids: Arc::new(TimeOrderedIds),
            blobs: Arc::new(MemoryBlobs::new()),
            http: Arc::new(crm_core::memory_http::MemHttp::new()),
        },
        EngineConfig {
            claim_runs: true,
            list_outbox: true,
            // 50 runs race for one counter: let each retry until it wins.
            max_retries: 500,
            ..EngineConfig::default()
        },
    ));
    crm_core::testing::load(&engine, tenant).await.unwrap();
    let template = engine
        .create_template(tenant, "Invoice", "invoice.docx", sample::invoice())
        .await
        .unwrap();
    let rule = engine
        .create_numerator(
            tenant,
            body::<NumeratorBody>(
                json!({"name": "Invoices", "template": "INV-{YYYY}-{NUMBER}", "padding": 3}),
            ),
        )
        .await
        .unwrap();
    engine
        .create_robot(
            tenant,
            "deals",
            body(json!({"stage_id": "prep", "type": "create_document",
                "settings": {"template_id": template.id, "numerator_id": rule.id, "formats": ["docx"]}})),
        )
        .await
        .unwrap();
    let mut items = Vec::new();
    for i in 0..ITEMS {
        let mut deal = crm_core::testing::deal("prep", 100.0 + i as f64);
        deal["title"] = json!(format!("Deal {i}"));
        items.push(
            engine
                .create_item(tenant, body::<NewItem>(deal))
                .await
                .unwrap()
                .id,
        );
    }
    // Plan the visits (this tenant's outbox records only: the table is shared).
    for d in engine.pending_outbox().await.unwrap() {
        if d.key.id.starts_with(&format!("{tenant}|")) {
            engine.process_outbox(d).await.unwrap();
        }
    }
    let due: Vec<_> = std::iter::from_fn(|| jobs.pop_due(clock.now()))
        .filter(|j| j.tenant == tenant)
        .collect();
    assert_eq!(due.len(), ITEMS, "one create_document run per deal");
    let before = store.hook().conflicts.load(Ordering::Relaxed);
    let mut pending = due;
    for _round in 0..20 {
        let tasks: Vec<_> = pending
            .iter()
            .cloned()
            .map(|job| {
                let e = engine.clone();
                tokio::spawn(async move { (job.clone(), e.run_job(job).await) })
            })
            .collect();
        let mut again = Vec::new();
        for t in tasks {
            let (job, outcome) = t.await.unwrap();
            match outcome {
                Ok(RunOutcome::Finished(_) | RunOutcome::AlreadyFinished) => {}
                other => {
                    eprintln!("retrying {}: {other:?}", job.run_id);
                    again.push(job);
                }
            }
        }
        if again.is_empty() {
            break;
        }
        pending = again;
    }
    let mut numbers = Vec::new();
    for item in &items {
        let docs = engine
            .list_documents(tenant, item, None, None)
            .await
            .unwrap()
            .records;
        assert_eq!(docs.len(), 1, "one document for {item}");
        numbers.push(docs[0].number.clone().unwrap());
    }
    numbers.sort();
    let want: Vec<String> = (1..=ITEMS).map(|n| format!("INV-2026-{n:03}")).collect();
    assert_eq!(numbers, want, "unique and gap-free");
    let lost = store.hook().conflicts.load(Ordering::Relaxed) - before;
    eprintln!("{ITEMS} concurrent runs: {lost} commits lost a race and were retried");
    lost
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_documents_on_the_embedded_store_are_numbered_without_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let db = crm_embedded::Db::open(dir.path()).unwrap();
    fifty_concurrent_documents_are_numbered_1_to_50(Arc::new(db.store()), "acme").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_documents_on_dynamodb_are_numbered_without_gaps() {
    let p = crm_aws::testing::isolated_ports("doc-numbers")
        .await
        .unwrap_or_else(|e| {
            panic!("the DynamoDB test needs LocalStack (infra/localstack.sh start): {e}")
        });
    let tenant = crm_tests::contract::unique_tenant("docnum");
    let lost = fifty_concurrent_documents_are_numbered_1_to_50(p.store.clone(), &tenant).await;
    assert!(
        lost > 0,
        "the runs overlapped: some lost the counter's race"
    );
    crm_aws::testing::teardown(&p).await.expect("teardown");
}
