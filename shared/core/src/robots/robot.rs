//! A robot: an action on one stage of one pipeline, and its save-time checks.

use serde::{Deserialize, Serialize};

use super::Action;
use super::wait_for::{OnTimeout, WaitFor};
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
    /// With `after_previous`: wait for the previous robot's run to finish
    /// (default) or for the task it created to be completed.
    #[serde(default, skip_serializing_if = "WaitFor::is_finish")]
    pub wait_for: WaitFor,
    /// With `wait_for: task_completed`: wait at most this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_timeout: Option<crate::delay::Duration>,
    /// What to do when `wait_timeout` passes: `run` (default) or `skip`.
    #[serde(default, skip_serializing_if = "OnTimeout::is_run")]
    pub on_timeout: OnTimeout,
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
    super::wait_for::check(&mut cx, robots, robot);
    cx.finish()
}
