//! What a report reads (issue #13: reports are computed from aggregates kept
//! up to date as visits end, never by scanning items). On SQLite, the
//! time-in-stage and conversion reports of a 91-day period read the same
//! number of documents for a tenant with 1,000 items as for one with 100,000
//! — days × stages × shards, not items — and list nothing. How fast that is
//! is measured by `cargo bench -p crm-embedded --bench reports`, not here.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use crm_core::memory::{ManualClock, ports_on};
use crm_core::ports::{Doc, DocKey, DocStore, Kind, StoreError, Write};
use crm_core::{Engine, EngineConfig, report_history, testing};
use crm_embedded::Db;

/// Counts the documents read and the lists taken.
struct Counting {
    inner: Arc<dyn DocStore>,
    keys: AtomicUsize,
    lists: AtomicUsize,
}

impl Counting {
    fn take(&self) -> (usize, usize) {
        (
            self.keys.swap(0, Ordering::SeqCst),
            self.lists.swap(0, Ordering::SeqCst),
        )
    }
}

#[async_trait]
impl DocStore for Counting {
    async fn get(&self, key: &DocKey) -> Result<Option<Doc>, StoreError> {
        self.keys.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[DocKey]) -> Result<Vec<Option<Doc>>, StoreError> {
        self.keys.fetch_add(keys.len(), Ordering::SeqCst);
        self.inner.get_many(keys).await
    }
    async fn list(&self, tenant: &str, kind: Kind, parent: &str) -> Result<Vec<Doc>, StoreError> {
        self.lists.fetch_add(1, Ordering::SeqCst);
        self.inner.list(tenant, kind, parent).await
    }
    async fn list_page(
        &self,
        tenant: &str,
        kind: Kind,
        parent: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Doc>, StoreError> {
        self.lists.fetch_add(1, Ordering::SeqCst);
        self.inner
            .list_page(tenant, kind, parent, after, limit)
            .await
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.inner.transact(writes).await
    }
}

#[tokio::test]
async fn a_report_reads_days_times_stages_documents_whatever_the_number_of_items() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite: Arc<dyn DocStore> = Arc::new(Db::open(dir.path()).expect("open").store());
    let store = Arc::new(Counting {
        inner: sqlite,
        keys: AtomicUsize::new(0),
        lists: AtomicUsize::new(0),
    });
    let start = Utc.with_ymd_and_hms(2026, 9, 1, 8, 0, 0).unwrap();
    let engine = Engine::new(
        ports_on(store.clone(), Arc::new(ManualClock::new(start))),
        EngineConfig::default(),
    );
    let (from, to) = report_history::PERIOD;
    let q = engine
        .report_query(testing::PIPELINE.into(), Some(from), Some(to), None, None)
        .expect("period");
    let mut reads = Vec::new();
    for (tenant, items) in [("small", 1_000u32), ("big", 100_000)] {
        testing::load(&engine, tenant).await.expect("company");
        report_history::write(&*store, tenant, items, start)
            .await
            .expect("history");
        store.take();
        let st = engine.report_stage_time(tenant, &q).await.expect("report");
        let stage_time = store.take();
        let c = engine.report_conversion(tenant, &q).await.expect("report");
        let conversion = store.take();
        // The figures are the items' own, not a sample.
        assert_eq!(st.stages[0].count, i64::from(items), "{tenant}");
        assert_eq!(c.stages[0].entered, i64::from(items), "{tenant}");
        assert_eq!(c.success, i64::from(items), "{tenant}");
        println!(
            "{tenant}: {items} items; stage-time report read {} documents in {} lists, conversion {} in {}",
            stage_time.0, stage_time.1, conversion.0, conversion.1
        );
        reads.push((stage_time, conversion));
    }
    assert_eq!(reads[0], reads[1], "reads grow with the number of items");
    // 91 days × 5 stages × 4 shards, plus the pipeline and a few settings.
    let (stage_time, conversion) = reads[1];
    assert!(stage_time.0 <= 91 * 5 * 4 + 16, "{stage_time:?}");
    assert!(conversion.0 <= 91 * 5 * 4 + 16, "{conversion:?}");
    assert_eq!(
        (stage_time.1, conversion.1),
        (0, 0),
        "a report lists nothing"
    );
}
