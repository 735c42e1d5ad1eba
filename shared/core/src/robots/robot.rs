//! A robot: an action on one stage of one pipeline, and its save-time checks.

use serde::{Deserialize, Serialize};

use super::Action;
use crate::check::{Check, Refs};
use crate::condition::Condition;
use crate::context::is_robot_path;
use crate::delay::Delay;
use crate::error::FieldError;
use crate::model::Pipeline;

/// A robot: an action on one stage of one pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Robot {
    pub id: String,
    pub pipeline_id: String,
    pub stage_id: String,
    /// Position among the robots of the pipeline (creation order).
    pub order: u64,
    pub name: String,
    #[serde(flatten)]
    pub action: Action,
    pub delay: Delay,
    pub respect_working_hours: bool,
    pub condition: Option<Condition>,
    pub after_previous: bool,
}

/// Validate a robot (its id/order already assigned) against its pipeline and
/// the pipeline's other robots. Returns the problems and the references to check.
pub fn validate_robot(
    pipeline: &Pipeline,
    robots: &[Robot],
    robot: &Robot,
) -> (Vec<FieldError>, Refs) {
    let known = |p: &str| is_robot_path(pipeline, robots, robot, p);
    let mut cx = Check::new(pipeline, &known);
    cx.stage("stage_id", &robot.stage_id);
    if let Err(e) = robot.delay.validate() {
        cx.err(e.field(), e.to_string());
    }
    if let Some(field) = robot.delay.field()
        && !cx.is_date_field(field)
    {
        cx.err(
            "delay.field",
            format!(
                "'{field}' is not a date field of pipeline '{}'",
                pipeline.id
            ),
        );
    }
    cx.condition("condition", robot.condition.as_ref());
    for (key, t) in robot.action.templates() {
        cx.template(&format!("settings.{key}"), t);
    }
    robot.action.check(&mut cx);
    cx.finish()
}
