//! `create_task`: a task for an employee, linked to the item, the stage and
//! the robot (a `task_status` trigger can react to it).

use super::prelude::*;
use crate::delay::Duration;
use crate::model::{Task, TaskStatus};

/// `create_task`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTask {
    pub title: Template,
    #[serde(default = "empty_template")]
    pub description: Template,
    /// Default: the item's responsible.
    #[serde(default)]
    pub responsible_id: Option<String>,
    #[serde(default)]
    pub deadline: Option<Duration>,
    #[serde(default)]
    pub accomplice_ids: Vec<String>,
    #[serde(default)]
    pub auditor_ids: Vec<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub time_tracking: bool,
}

impl RobotType for CreateTask {
    const GROUP: Group = Group::EmployeeControl;
    const DESCRIPTION: &'static str = "Create a task for an employee";
    const OUTPUTS: &'static [&'static str] = &["task_id"];

    fn templates(&self) -> Vec<(&'static str, &Template)> {
        vec![("title", &self.title), ("description", &self.description)]
    }

    fn check(&self, cx: &mut Check<'_>) {
        cx.opt_user("settings.responsible_id", self.responsible_id.as_ref());
        cx.users("settings.accomplice_ids", &self.accomplice_ids);
        cx.users("settings.auditor_ids", &self.auditor_ids);
        if let Some(d) = &self.deadline {
            cx.require(d.amount > 0, "settings.deadline.amount", "must be at least 1");
        }
    }

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        let responsible = cx
            .user_or_responsible(self.responsible_id.as_deref())
            .await?;
        let accomplices = cx.resolve_users(&self.accomplice_ids, &[]).await?;
        let auditors = cx.resolve_users(&self.auditor_ids, &[]).await?;
        let (item, now) = (cx.item, cx.now);
        let task = Task {
            id: cx.id("task"),
            item_id: item.id.clone(),
            pipeline_id: item.pipeline_id.clone(),
            stage_id: cx.robot.stage_id.clone(),
            robot_id: cx.robot.id.clone(),
            title: cx.render(&self.title),
            description: cx.render(&self.description),
            responsible_id: responsible,
            accomplice_ids: accomplices,
            auditor_ids: auditors,
            group: self.group.clone(),
            time_tracking: self.time_tracking,
            deadline: self.deadline.map(|d| now + d.to_chrono()),
            status: TaskStatus::Pending,
            created_at: now,
            completed_at: None,
            version: 1,
        };
        let mut writes = crate::user_work::task_writes(cx.tenant, &task);
        writes.push(cx.timeline(
            "task_created",
            None,
            format!("Task created: {}", task.title),
            serde_json::json!({"task_id": task.id}),
        ));
        Ok(Effect::done(writes)
        .output("task_id", task.id))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::robots::check_tests::{check, users};

    #[test]
    fn a_zero_deadline_is_refused_and_every_user_is_looked_up() {
        let (errors, refs) = check(
            "create_task",
            json!({"title": "Design for {{title}}", "responsible_id": "u-dina",
                   "accomplice_ids": ["u-dan"], "auditor_ids": ["responsible"],
                   "deadline": {"amount": 0, "unit": "days"}}),
        );
        assert_eq!(errors, ["settings.deadline.amount"]);
        assert_eq!(users(&refs), ["u-dina", "u-dan"]);
    }
}
