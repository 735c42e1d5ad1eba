//! A trigger: pulls an item into its stage when its event happens; and its
//! save-time checks.

use serde::{Deserialize, Serialize};

use super::TriggerKind;
use crate::check::{Check, Refs};
use crate::condition::Condition;
use crate::context::is_item_path;
use crate::error::FieldError;
use crate::model::Pipeline;

/// A trigger: pulls an item into its stage when its event happens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Trigger {
    pub id: String,
    pub pipeline_id: String,
    pub stage_id: String,
    pub order: u64,
    pub name: String,
    #[serde(flatten)]
    pub kind: TriggerKind,
    pub condition: Option<Condition>,
    /// Author of the stage change; default the item's responsible.
    pub execute_as: Option<String>,
    pub allow_backwards: bool,
}

/// Validate a trigger against its pipeline.
pub fn validate_trigger(pipeline: &Pipeline, trigger: &Trigger) -> (Vec<FieldError>, Refs) {
    let known = |p: &str| is_item_path(pipeline, p);
    let mut cx = Check::new(pipeline, &known);
    cx.stage("stage_id", &trigger.stage_id);
    cx.opt_user("execute_as", trigger.execute_as.as_ref());
    cx.condition("condition", trigger.condition.as_ref());
    trigger.kind.check(&mut cx);
    cx.finish()
}
