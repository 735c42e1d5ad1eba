//! Trigger selection (SPEC.md §3).
//!
//! When an event arrives for an item: take the triggers of that event type in
//! the item's pipeline, drop those on the current stage, drop those on earlier
//! stages unless they allow moving back, drop those whose settings or condition
//! do not match; among the rest the one whose stage comes first in pipeline
//! order wins (ties: the one created first), and only it fires.

use std::collections::HashMap;

use serde_json::Value;

use super::Trigger;
use crate::model::{Pipeline, Task};
use crate::template::Resolve;

/// What an event says, as far as trigger settings are concerned.
#[derive(Debug, Clone, Copy)]
pub struct EventFacts<'a> {
    pub event_type: &'a str,
    pub data: &'a Value,
    /// For `task_status` events: the task as it is now.
    pub task: Option<&'a Task>,
}

/// The triggers of one pipeline, grouped by event type and sorted by
/// (stage position, creation order), ready for fast selection.
#[derive(Debug, Clone, Default)]
pub struct TriggerSet {
    by_type: HashMap<&'static str, Vec<(usize, Trigger)>>,
}

/// Outcome of a selection.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection<'a> {
    Fire(&'a Trigger),
    /// Nothing fires; the reason says why (for the run log).
    NoMatch(String),
}

impl TriggerSet {
    /// Index the triggers of `pipeline` (triggers on unknown stages are ignored).
    pub fn new(pipeline: &Pipeline, triggers: impl IntoIterator<Item = Trigger>) -> Self {
        let positions: HashMap<&str, usize> = pipeline
            .stages
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect();
        let mut by_type: HashMap<&'static str, Vec<(usize, Trigger)>> = HashMap::new();
        for t in triggers {
            if let Some(&pos) = positions.get(t.stage_id.as_str()) {
                by_type
                    .entry(t.kind.type_name())
                    .or_default()
                    .push((pos, t));
            }
        }
        for v in by_type.values_mut() {
            v.sort_by_key(|(pos, t)| (*pos, t.order));
        }
        TriggerSet { by_type }
    }

    /// Are there triggers for this event type?
    pub fn has(&self, event_type: &str) -> bool {
        self.by_type.get(event_type).is_some_and(|v| !v.is_empty())
    }

    /// Apply the selection rule for an item at `current` (the position of its
    /// stage in the pipeline). `item` resolves the trigger conditions.
    pub fn select<'a>(
        &'a self,
        current: usize,
        facts: &EventFacts<'_>,
        item: &dyn Resolve,
    ) -> Selection<'a> {
        let Some(candidates) = self.by_type.get(facts.event_type) else {
            return Selection::NoMatch(format!("no {} trigger in this pipeline", facts.event_type));
        };
        let (mut on_current, mut backwards, mut settings, mut condition) = (0, 0, 0, 0);
        for (pos, t) in candidates {
            if *pos == current {
                on_current += 1;
                continue;
            }
            if *pos < current && !t.allow_backwards {
                backwards += 1;
                continue;
            }
            if !t.kind.matches(facts) {
                settings += 1;
                continue;
            }
            if let Some(c) = &t.condition
                && !c.evaluate(item)
            {
                condition += 1;
                continue;
            }
            return Selection::Fire(t);
        }
        let mut why = Vec::new();
        if on_current > 0 {
            why.push(format!("{on_current} on the current stage"));
        }
        if backwards > 0 {
            why.push(format!(
                "{backwards} on an earlier stage without allow_backwards"
            ));
        }
        if settings > 0 {
            why.push(format!("{settings} whose settings did not match the event"));
        }
        if condition > 0 {
            why.push(format!("{condition} whose condition was false"));
        }
        Selection::NoMatch(format!(
            "no {} trigger matched: {}",
            facts.event_type,
            why.join(", ")
        ))
    }
}

impl EventFacts<'_> {
    /// A string of the event's data.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.data.get(key).and_then(Value::as_str)
    }
}
