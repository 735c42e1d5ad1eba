//! The stored aggregate: one additive document per (pipeline, stage, UTC
//! day, shard), per (pipeline, responsible, stage, UTC day) and, for the
//! robots report, per (pipeline, robot's stage, UTC day, shard) holding the
//! counts of each robot of the stage that ran ([`Aggregate::robots`]). A
//! change adds a delta of the same type, so that documents, days and shards
//! merge by [`Aggregate::merge`].
//!
//! Before issue #11's change a robot counted on a document of its own per
//! (pipeline, robot, UTC day, shard) ([`robot_key`], the top-level `runs`
//! and `late`); those documents are no longer written, and are still read
//! and added by the robots report.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::histogram::Histogram;
use super::robot_counts::{RobotCounts, merge_robots, merge_runs};
use crate::ports::{DocKey, Kind};

/// Shards of the stage and robot documents of one day: an item's changes
/// always go to the shard its id hashes to, so that concurrent writers of
/// one busy stage (or robot) and day meet on a quarter of the document.
pub const SHARDS: u32 = 4;

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// What the reports count, all of it additive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Aggregate {
    /// Visits of the stage that ended (each visit once).
    #[serde(skip_serializing_if = "is_zero")]
    pub visits: i64,
    /// Items whose time in the stage (summed over their visits) was last
    /// recorded on this day.
    #[serde(skip_serializing_if = "is_zero")]
    pub items: i64,
    /// Sum of those items' times in the stage, ms.
    #[serde(skip_serializing_if = "is_zero")]
    pub time_ms: i64,
    /// Histogram of those times.
    #[serde(skip_serializing_if = "Histogram::is_empty")]
    pub time: Histogram,
    /// Entries into the stage (re-entries included).
    #[serde(skip_serializing_if = "is_zero")]
    pub entered: i64,
    /// Sum of the items' ages (creation → this entry), ms.
    #[serde(skip_serializing_if = "is_zero")]
    pub age_ms: i64,
    /// Histogram of those ages (on a success stage: the conversion time).
    #[serde(skip_serializing_if = "Histogram::is_empty")]
    pub age: Histogram,
    /// Robot runs by final status (`done`, `skipped`, …): a robot's own
    /// document of before issue #11's change ([`robot_key`]), read only.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub runs: BTreeMap<String, i64>,
    /// Lateness (finished − due) of delayed robots' runs, ms (as `runs`).
    /// (`runs` and `late` are [`RobotCounts`]' fields, not a flattened one:
    /// serde's `flatten` cannot read the histogram's numeric map keys.)
    #[serde(skip_serializing_if = "Histogram::is_empty")]
    pub late: Histogram,
    /// A stage's robot document ([`robot_stage_key`]): the counts of each
    /// robot of the stage that ran, by robot id.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub robots: BTreeMap<String, RobotCounts>,
}

impl Aggregate {
    /// Add every count of `other`.
    pub fn merge(&mut self, other: &Aggregate) {
        self.visits += other.visits;
        self.items += other.items;
        self.time_ms += other.time_ms;
        self.time.merge(&other.time);
        self.entered += other.entered;
        self.age_ms += other.age_ms;
        self.age.merge(&other.age);
        merge_runs(&mut self.runs, &other.runs);
        self.late.merge(&other.late);
        merge_robots(&mut self.robots, &other.robots);
    }

    /// The counts of one robot: its entry in a stage's robot document, or
    /// its own document's (before issue #11's change) top-level counts.
    pub fn robot(&self, robot: &str) -> RobotCounts {
        let mut c = RobotCounts {
            runs: self.runs.clone(),
            late: self.late.clone(),
        };
        if let Some(r) = self.robots.get(robot) {
            c.merge(r);
        }
        c
    }

    /// Counts nothing (a delta that changes nothing).
    pub fn is_empty(&self) -> bool {
        *self == Aggregate::default()
    }
}

/// The UTC day of an instant.
pub fn day_of(at: DateTime<Utc>) -> NaiveDate {
    at.date_naive()
}

/// The shard of an item (FNV-1a of its id: stable across processes).
pub fn shard_of(item_id: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in item_id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h % SHARDS
}

/// Key of a stage's document of one day and shard.
pub fn stage_key(tenant: &str, pipeline: &str, stage: &str, day: NaiveDate, shard: u32) -> DocKey {
    DocKey::new(
        tenant,
        Kind::Report,
        format!("st|{pipeline}|{stage}|{day}|{shard}"),
    )
}

/// Key of a stage's document of one day for one responsible.
pub fn responsible_key(
    tenant: &str,
    pipeline: &str,
    responsible: &str,
    stage: &str,
    day: NaiveDate,
) -> DocKey {
    DocKey::new(
        tenant,
        Kind::Report,
        format!("rs|{pipeline}|{responsible}|{stage}|{day}"),
    )
}

/// Key of the robots' document of one stage, day and shard: the counts of
/// every robot of the stage (by the robot's stage when it ran).
pub fn robot_stage_key(
    tenant: &str,
    pipeline: &str,
    stage: &str,
    day: NaiveDate,
    shard: u32,
) -> DocKey {
    DocKey::new(
        tenant,
        Kind::Report,
        format!("rr|{pipeline}|{stage}|{day}|{shard}"),
    )
}

/// Key of a robot's own document of one day and shard, written before
/// issue #11's change (the robots report still reads and adds it).
pub fn robot_key(tenant: &str, pipeline: &str, robot: &str, day: NaiveDate, shard: u32) -> DocKey {
    DocKey::new(
        tenant,
        Kind::Report,
        format!("rb|{pipeline}|{robot}|{day}|{shard}"),
    )
}

/// Deltas by document, merged (one write per document).
#[derive(Debug, Clone, Default)]
pub struct Deltas(pub BTreeMap<DocKey, Aggregate>);

impl Deltas {
    /// Add `delta` to the document `key`.
    pub fn add(&mut self, key: DocKey, delta: Aggregate) {
        self.0.entry(key).or_default().merge(&delta);
    }

    /// Add every delta of `other`.
    pub fn extend(&mut self, other: Deltas) {
        for (k, d) in other.0 {
            self.add(k, d);
        }
    }

    /// Drop documents whose deltas cancel out.
    pub fn without_empty(mut self) -> Deltas {
        self.0.retain(|_, d| !d.is_empty());
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
