//! What the reports need of an item change, taken when the item is written
//! (from the item before and after the change) and carried by its outbox
//! record, so that the stage-change step can count the visit without reading
//! the item again.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::aggregate::day_of;
use crate::model::{Item, ItemChange};

/// The time an item has spent in one stage over all its visits so far, kept
/// on the item (`stage_time`), and where that total was counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StageTotal {
    /// Milliseconds in the stage, summed over the visits that ended.
    pub ms: i64,
    /// The UTC day (`YYYY-MM-DD`) the last of those visits ended: the day
    /// the total is counted on in the reports.
    pub day: String,
    /// The responsible when the last of those visits ended.
    pub responsible_id: String,
}

/// Times in stages, by stage id.
pub type StageTimes = BTreeMap<String, StageTotal>;

/// A visit that ended with the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftStage {
    /// How long this visit lasted, ms.
    pub visit_ms: i64,
    /// The item's total in the stage, this visit included.
    pub total: StageTotal,
    /// The total before this visit (counted on an earlier day, or by another
    /// responsible): the reports take it out where it was counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<StageTotal>,
}

/// The report facts of one item change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitFacts {
    pub pipeline_id: String,
    /// When the item was created (conversion time = entry − creation).
    pub created_at: DateTime<Utc>,
    /// The visit that ended, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left: Option<LeftStage>,
}

/// The item's total in its current stage if the current visit ended `at`,
/// and the total before this visit.
pub fn leave_current(item: &Item, at: DateTime<Utc>) -> LeftStage {
    let previous = item.stage_time.get(&item.stage_id).cloned();
    let visit_ms = (at - item.visit_started_at).num_milliseconds().max(0);
    LeftStage {
        visit_ms,
        total: StageTotal {
            ms: previous.as_ref().map_or(0, |p| p.ms) + visit_ms,
            day: day_of(at).to_string(),
            responsible_id: item.responsible_id.clone(),
        },
        previous,
    }
}

/// The facts of `change` (made to `old`, giving `item`).
///
/// When the change moved the item, the total counted is the one the updated
/// item keeps (`item.stage_time`): a later re-entry takes out exactly what
/// was counted, under the same responsible, even when the same change also
/// set a new responsible.
pub fn visit_facts(old: Option<&Item>, item: &Item, change: &ItemChange) -> VisitFacts {
    let left = match (old, &change.stage) {
        (Some(old), Some(mv))
            if mv.from_stage.is_some() && (mv.from_visit != mv.to_visit || change.deleted) =>
        {
            let mut left = leave_current(old, change.at);
            let kept = mv
                .from_stage
                .as_ref()
                .filter(|_| mv.from_visit != mv.to_visit)
                .and_then(|s| item.stage_time.get(s));
            if let Some(kept) = kept {
                left.total = kept.clone();
            }
            Some(left)
        }
        _ => None,
    };
    VisitFacts {
        pipeline_id: item.pipeline_id.clone(),
        created_at: item.created_at,
        left,
    }
}
