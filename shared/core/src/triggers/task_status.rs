//! `task_status`: a task of the item reached a status (raised by the engine).

use serde::{Deserialize, Serialize};

use super::{EventFacts, RaisedBy, TriggerType};
use crate::check::Check;
use crate::condition::Condition;
use crate::context::{TASK_PATHS, TaskContext};
use crate::model::TaskStatus as Status;

/// `task_status`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskStatus {
    pub status: Status,
    /// Condition on the task (`title`, `description`, `responsible_id`, `status`, `stage_id`, `robot_id`).
    #[serde(default)]
    pub task_filter: Option<Condition>,
}

impl TriggerType for TaskStatus {
    const GROUP: crate::catalogue::Group = crate::catalogue::Group::EmployeeControl;
    const DESCRIPTION: &'static str = "A task of the item reached a status";
    const RAISED_BY: RaisedBy = RaisedBy::Engine;

    fn check(&self, cx: &mut Check<'_>) {
        cx.condition_over(
            "settings.task_filter",
            self.task_filter.as_ref(),
            &|p: &str| TASK_PATHS.contains(&p),
        );
    }

    fn matches(&self, facts: &EventFacts<'_>) -> bool {
        facts.task.is_some_and(|task| {
            task.status == self.status
                && self
                    .task_filter
                    .as_ref()
                    .is_none_or(|f| f.evaluate(&TaskContext(task)))
        })
    }
}
