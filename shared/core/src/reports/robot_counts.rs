//! One robot's counts: its runs by final status and a delayed robot's
//! lateness. A stage's robot document (`rr|…`, [`super::aggregate`]) keeps
//! them per robot id, for the robots that ran only, so that the robots of
//! one stage that finish in one commit write one document (issue #11).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::histogram::Histogram;

/// What the robots report counts of one robot, all of it additive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RobotCounts {
    /// Runs by final status (`done`, `skipped`, …).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub runs: BTreeMap<String, i64>,
    /// Lateness (finished − due) of a delayed robot's runs, ms.
    #[serde(skip_serializing_if = "Histogram::is_empty")]
    pub late: Histogram,
}

impl RobotCounts {
    /// Add every count of `other`.
    pub fn merge(&mut self, other: &RobotCounts) {
        merge_runs(&mut self.runs, &other.runs);
        self.late.merge(&other.late);
    }

    /// Counts nothing.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty() && self.late.is_empty()
    }
}

/// Add the run counts `other` to `runs` (a status whose count reaches 0 is
/// dropped).
pub fn merge_runs(runs: &mut BTreeMap<String, i64>, other: &BTreeMap<String, i64>) {
    for (s, n) in other {
        let e = runs.entry(s.clone()).or_insert(0);
        *e += n;
        if *e == 0 {
            runs.remove(s);
        }
    }
}

/// Add the counts `other` to the robots' counts `robots` (a robot left
/// counting nothing is dropped).
pub fn merge_robots(
    robots: &mut BTreeMap<String, RobotCounts>,
    other: &BTreeMap<String, RobotCounts>,
) {
    for (id, c) in other {
        let e = robots.entry(id.clone()).or_default();
        e.merge(c);
        if e.is_empty() {
            robots.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(n: i64) -> RobotCounts {
        RobotCounts {
            runs: BTreeMap::from([("done".to_string(), n)]),
            ..RobotCounts::default()
        }
    }

    #[test]
    fn robots_merge_by_adding_and_a_robot_counting_nothing_is_dropped() {
        let mut all = BTreeMap::new();
        merge_robots(&mut all, &BTreeMap::from([("a".into(), done(2))]));
        merge_robots(
            &mut all,
            &BTreeMap::from([("a".into(), done(3)), ("b".into(), done(1))]),
        );
        assert_eq!(
            all,
            BTreeMap::from([("a".into(), done(5)), ("b".into(), done(1))])
        );
        merge_robots(&mut all, &BTreeMap::from([("b".into(), done(-1))]));
        assert_eq!(all, BTreeMap::from([("a".into(), done(5))]));
        // Stored small: no empty parts.
        assert_eq!(
            serde_json::to_string(&all).unwrap(),
            r#"{"a":{"runs":{"done":5}}}"#
        );
    }
}
