//! `field_changed`: a watched field of the item changed (raised by the engine).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{EventFacts, RaisedBy, TriggerType};
use crate::check::Check;
use crate::context::is_writable_path;

/// `field_changed`
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldChanged {
    /// Paths watched (`amount`, `fields.budget`); any of them changing fires.
    pub fields: Vec<String>,
}

impl TriggerType for FieldChanged {
    const GROUP: crate::catalogue::Group = crate::catalogue::Group::ItemManagement;
    const DESCRIPTION: &'static str = "A watched field of the item changed";
    const RAISED_BY: RaisedBy = RaisedBy::Engine;

    fn check(&self, cx: &mut Check<'_>) {
        cx.require(
            !self.fields.is_empty(),
            "settings.fields",
            "name at least one field to watch",
        );
        for (i, f) in self.fields.iter().enumerate() {
            if !is_writable_path(cx.pipeline, f) {
                cx.err(
                    format!("settings.fields[{i}]"),
                    format!("unknown field '{f}'"),
                );
            }
        }
    }

    fn matches(&self, facts: &EventFacts<'_>) -> bool {
        facts
            .data
            .get("fields")
            .and_then(Value::as_array)
            .is_some_and(|changed| {
                changed
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|c| self.fields.iter().any(|f| f == c))
            })
    }
}
