//! A synthetic stage history for the reports' benchmark and its read-cost
//! test (issue #13): `items` deals of the test company's pipeline
//! [`crate::testing::PIPELINE`], each created in New orders on day
//! `item % 90` of the period and moved through Project preparation and
//! Client presentation to Won, spending `item % 7 + 1` hours in each stage.
//! Each change's aggregate deltas are computed by the engine's own
//! [`visit_deltas`] from the facts its outbox record carries, and written
//! through [`commit`] as the outbox processor writes them — so a report
//! reads exactly what 100,000 real items would have left behind.

use chrono::{DateTime, Duration, Utc};

use crate::model::{Chain, ItemChange, StageMove};
use crate::ports::{DocStore, StoreError};
use crate::reports::facts::{LeftStage, StageTotal, VisitFacts};
use crate::reports::tally::visit_deltas;
use crate::reports::{Deltas, commit};

/// The stages every item goes through, in order.
pub const STAGES: [&str; 4] = ["new", "prep", "presentation", "won"];

/// The period the history spans (91 days, both ends included).
pub const PERIOD: (&str, &str) = ("2026-09-01", "2026-11-30");

/// The stage change `step` (0 = created in New orders) of item `item`.
pub fn change(tenant: &str, item: u32, step: usize, start: DateTime<Utc>) -> ItemChange {
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
            pipeline_id: crate::testing::PIPELINE.into(),
            created_at: created,
            left,
        }),
    }
}

/// Write the aggregates `items` items leave behind (their changes start at
/// `start`, 08:00 UTC on the period's first day). Returns how many aggregate
/// documents were written.
pub async fn write(
    store: &dyn DocStore,
    tenant: &str,
    items: u32,
    start: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut all = Deltas::default();
    for item in 0..items {
        for step in 0..STAGES.len() {
            all.extend(visit_deltas(&change(tenant, item, step, start)));
        }
    }
    let docs: Vec<_> = all.0.into_iter().collect();
    for chunk in docs.chunks(40) {
        let mut part = Deltas::default();
        for (k, d) in chunk {
            part.add(k.clone(), d.clone());
        }
        commit(store, Vec::new(), part).await?;
    }
    Ok(docs.len())
}
