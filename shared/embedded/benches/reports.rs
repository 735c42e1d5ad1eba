//! Issue #13's benchmark: a report over 100,000 items' stage history on the
//! local store (SQLite), target < 50 ms. The history is what 100,000 deals
//! leave behind over 91 days ([`crm_core::report_history`]); each iteration
//! reads the time-in-stage report and the conversion report of the whole
//! period, as `GET /v1/reports/stage-time` and `/conversion` do.
//!
//! `cargo bench -p crm-embedded --bench reports`

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use crm_core::memory::{ManualClock, ports_on};
use crm_core::ports::DocStore;
use crm_core::{Engine, EngineConfig, report_history, testing};
use crm_embedded::Db;

const ITEMS: u32 = 100_000;

fn reports(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn DocStore> = Arc::new(Db::open(dir.path()).expect("open").store());
    let start = Utc.with_ymd_and_hms(2026, 9, 1, 8, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let engine = Engine::new(ports_on(store.clone(), clock), EngineConfig::default());
    let tenant = testing::TENANT;
    let written = rt.block_on(async {
        testing::load(&engine, tenant).await.expect("company");
        report_history::write(&*store, tenant, ITEMS, start)
            .await
            .expect("history")
    });
    let (from, to) = report_history::PERIOD;
    let q = engine
        .report_query(testing::PIPELINE.into(), Some(from), Some(to), None, None)
        .expect("period");
    println!("{ITEMS} items' history: {written} aggregate documents");
    let mut group = c.benchmark_group("reports over 100,000 items");
    group.sample_size(30);
    group.bench_function("stage-time report", |b| {
        b.iter(|| {
            rt.block_on(engine.report_stage_time(tenant, &q))
                .expect("report")
        })
    });
    group.bench_function("conversion report", |b| {
        b.iter(|| {
            rt.block_on(engine.report_conversion(tenant, &q))
                .expect("report")
        })
    });
    group.finish();
}

criterion_group!(benches, reports);
criterion_main!(benches);
