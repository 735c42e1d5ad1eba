//! The reports' read cost on SQLite (issue #13's benchmark: a report over
//! 100,000 items' history in under 50 ms locally). The history is the
//! aggregates 100,000 items leave behind — each created in New orders, then
//! moved through the stages over the 90 days of the period, each change's
//! deltas computed by the engine's own `visit_deltas` from the facts its
//! outbox record carries — written once, then each report is read from
//! them. A report's reads depend on days × stages × shards, not on items.

use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use crm_core::model::{Chain, ItemChange, StageMove};
use crm_core::ports::DocStore;
use crm_core::reports::facts::{LeftStage, StageTotal, VisitFacts};
use crm_core::reports::tally::visit_deltas;
use crm_core::reports::{Deltas, commit};
use crm_embedded::Db;
use crm_tests::report_contract::Rig;

const ITEMS: u32 = 100_000;
const STAGES: [&str; 4] = ["new", "prep", "presentation", "won"];

fn change(tenant: &str, item: u32, step: usize, start: chrono::DateTime<Utc>) -> ItemChange {
    // Item `item` is created on day item % 90 and spends (item % 7 + 1)
    // hours in each stage.
    let created = start + Duration::days(i64::from(item % 90));
    let hours = i64::from(item % 7 + 1);
    let at = created + Duration::hours(hours * step as i64);
    let left = (step > 0).then(|| LeftStage {
        visit_ms: hours * 3_600_000,
        total: StageTotal {
            ms: hours * 3_600_000,
            day: at.date_naive().to_string(),
            responsible_id: format!("u-{}", item % 10),
        },
        previous: None,
    });
    ItemChange {
        tenant: tenant.into(),
        item_id: format!("item-{item:06}"),
        version: step as u64 + 1,
        at,
        author_id: None,
        stage: Some(StageMove {
            from_stage: (step > 0).then(|| STAGES[step - 1].to_string()),
            from_visit: step as u64,
            to_stage: STAGES[step].into(),
            to_visit: step as u64 + 1,
        }),
        changed: Vec::new(),
        responsible_changed: false,
        deleted: false,
        chain: Chain {
            id: "c".into(),
            hops: 0,
        },
        report: Some(VisitFacts {
            pipeline_id: "deals".into(),
            created_at: created,
            left,
        }),
    }
}

#[tokio::test]
async fn a_report_over_100000_items_reads_only_day_documents() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn DocStore> = Arc::new(Db::open(dir.path()).expect("open").store());
    let rig = Rig::new(store.clone(), "bench", "2026-09-01T00:00:00Z").await;
    let start = Utc.with_ymd_and_hms(2026, 9, 1, 8, 0, 0).unwrap();
    let mut all = Deltas::default();
    for item in 0..ITEMS {
        for step in 0..STAGES.len() {
            all.extend(visit_deltas(&change(&rig.tenant, item, step, start)));
        }
    }
    let docs: Vec<_> = all.0.into_iter().collect();
    let written = docs.len();
    for chunk in docs.chunks(40) {
        let mut part = Deltas::default();
        for (k, d) in chunk {
            part.add(k.clone(), d.clone());
        }
        commit(&*store, Vec::new(), part)
            .await
            .expect("aggregates written");
    }
    let (from, to) = ("2026-09-01", "2026-11-30");
    let mut timings = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let st = rig.stage_time(from, to, None).await;
        let c = rig.conversion(from, to).await;
        timings.push(t.elapsed().as_secs_f64() * 500.0); // ms per report
        assert_eq!(st.stages[0].count, i64::from(ITEMS));
        assert_eq!(c.stages[0].entered, i64::from(ITEMS));
        assert_eq!(c.success, i64::from(ITEMS));
    }
    let best = timings.iter().copied().fold(f64::MAX, f64::min);
    println!(
        "report over {ITEMS} items' history ({written} aggregate documents, 91 days × 5 stages × 4 shards read per report): {best:.1} ms per report (debug build), runs {timings:?}"
    );
    // The target is 50 ms (release); a debug build on a loaded
    // machine is several times slower, so this guards the order of
    // magnitude (reading 100,000 items would take seconds).
    assert!(best < 1000.0, "{best} ms per report");
}
