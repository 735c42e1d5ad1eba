//! `complete_task`: completes the open robot-made tasks of the item that were
//! created on the stages named.

use super::prelude::*;
use crate::model::{Task, TaskStatus};
use crate::error::EngineError;
use crate::ports::{Doc, MAX_TRANSACTION_WRITES};
use crate::store::decode;

/// `complete_task`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteTask {
    /// Default: the item's pipeline.
    #[serde(default)]
    pub pipeline_id: Option<String>,
    pub stage_ids: Vec<String>,
}

impl RobotType for CompleteTask {
    const GROUP: Group = Group::EmployeeControl;
    const DESCRIPTION: &'static str = "Complete the item's tasks created on the stages named";

    fn check(&self, cx: &mut Check<'_>) {
        cx.require(
            !self.stage_ids.is_empty(),
            "settings.stage_ids",
            "name at least one stage",
        );
        match &self.pipeline_id {
            Some(p) if p != &cx.pipeline.id => {
                cx.other_pipeline("settings.stage_ids", p, &self.stage_ids);
            }
            _ => {
                for (i, st) in self.stage_ids.iter().enumerate() {
                    cx.stage(&format!("settings.stage_ids[{i}]"), st);
                }
            }
        }
    }

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        let (tenant, item, now) = (cx.tenant, cx.item, cx.now);
        let pipeline_id = self.pipeline_id.as_ref().unwrap_or(&item.pipeline_id);
        let Some(tasks) = item_tasks(cx, tenant, &item.id).await? else {
            return fail(format!(
                "the item has more than {MAX_TASKS_READ} tasks; complete_task reads at most {MAX_TASKS_READ}"
            ));
        };
        let mut writes = Vec::new();
        let mut done = Vec::new();
        for d in tasks {
            let Ok(mut old) = decode::<Task>(&d) else {
                continue;
            };
            if &old.pipeline_id != pipeline_id
                || !self.stage_ids.contains(&old.stage_id)
                || old.status == TaskStatus::Completed
            {
                continue;
            }
            old.version = d.version;
            let mut t = old.clone();
            t.status = TaskStatus::Completed;
            t.completed_at = Some(now);
            t.version = d.version + 1;
            done.push(t.id.clone());
            writes.extend(cx.engine.task_status_writes(
                tenant,
                &old,
                &t,
                now,
                None,
                cx.run.chain.clone(),
                cx.timeline_slot(),
            ));
        }
        if writes.len() > MAX_TRANSACTION_WRITES - 4 {
            return fail(format!("{} open tasks; at most 15 per run", done.len()));
        }
        Ok(Effect::done(writes).note(if done.is_empty() {
            "no open robot tasks on those stages".to_string()
        } else {
            format!("completed {}", done.join(", "))
        }))
    }
}

/// Most tasks of one item the robot reads (a page at a time).
pub const MAX_TASKS_READ: usize = 1_000;

/// The item's tasks, read a page at a time; `None` when it has more than
/// [`MAX_TASKS_READ`].
async fn item_tasks(
    cx: &RunContext<'_>,
    tenant: &str,
    item_id: &str,
) -> Result<Option<Vec<Doc>>, EngineError> {
    const PAGE: usize = 100;
    let store = &cx.engine.ports.store;
    let mut all: Vec<Doc> = Vec::new();
    loop {
        let after = all.last().map(|d| d.key.id.clone());
        let page = store
            .list_page(tenant, Kind::Task, item_id, after.as_deref(), PAGE)
            .await?;
        let more = page.len() == PAGE;
        all.extend(page);
        if all.len() > MAX_TASKS_READ {
            return Ok(None);
        }
        if !more {
            return Ok(Some(all));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::robots::check_tests::check;

    #[test]
    fn stages_must_exist_here_or_are_looked_up_in_the_other_pipeline() {
        let (errors, _) = check("complete_task", json!({"stage_ids": ["prep", "gone"]}));
        assert_eq!(errors, ["settings.stage_ids[1]"]);
        let (errors, _) = check("complete_task", json!({"stage_ids": []}));
        assert_eq!(errors, ["settings.stage_ids"]);
        let (errors, refs) = check(
            "complete_task",
            json!({"pipeline_id": "leads", "stage_ids": ["x"]}),
        );
        assert!(errors.is_empty());
        assert_eq!(refs.pipelines[0].1, "leads");
    }
}
