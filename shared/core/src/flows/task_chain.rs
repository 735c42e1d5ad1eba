//! Task chains (see [`crate::robots::wait_for`]): a completed task readies
//! the robot that waits for it. Runs when the `task_status` event of the
//! completion is taken from the outbox (the stage-change step), so a
//! completion by `PATCH /v1/tasks/{id}` and one by a `complete_task` robot
//! are the same; processing the record twice readies the robot once (the
//! follower's run is written under its version and stops awaiting).

use crate::engine::Engine;
use crate::error::Result;
use crate::model::{QueuedEvent, RunRecord, RunStatus, Task};
use crate::planning::{robot_due, run_id};
use crate::ports::{Cond, DocKey, Kind, StoreError, Write};
use crate::store::{pending_delete, put, record_doc};

impl Engine {
    /// If `event` says a task was completed and a robot of the item's
    /// current visit waits for that task, make that robot due (its own delay
    /// counted from now).
    pub(crate) async fn ready_task_waiter(&self, event: &QueuedEvent) -> Result<()> {
        if event.event_type != "task_status"
            || event.data.get("status").and_then(|s| s.as_str()) != Some("completed")
        {
            return Ok(());
        }
        let (Some(task_id), Some(item_id)) = (
            event.data.get("task_id").and_then(|s| s.as_str()),
            event.item_id.as_deref(),
        ) else {
            return Ok(());
        };
        let tenant = event.tenant.as_str();
        for _ in 0..=self.config.max_retries {
            let Some((task, _)) = self.load::<Task>(tenant, task_id).await? else {
                return Ok(());
            };
            let Some(item) = self.load_item(tenant, item_id).await? else {
                return Ok(());
            };
            if item.stage_id != task.stage_id {
                return Ok(()); // the visit is over: its chain was cancelled
            }
            let maker = run_id(&item.id, item.visit, &task.robot_id);
            let Some((m, _)) = self.load::<RunRecord>(tenant, &maker).await? else {
                return Ok(());
            };
            let Some(next) = m.next_run else {
                return Ok(());
            };
            let Some((mut f, fv)) = self.load::<RunRecord>(tenant, &next).await? else {
                return Ok(());
            };
            if f.status != RunStatus::Pending || f.awaiting_task.as_deref() != Some(task_id) {
                return Ok(()); // readied before, timed out, or waits for another task
            }
            let Some(robot) = f.robot.clone() else {
                return Ok(());
            };
            let now = self.now();
            let (cal, tz) = self.robot_calendar(tenant, &robot, &item).await?;
            let mut writes = Vec::new();
            match robot_due(&robot, &item, now, cal.as_ref(), tz) {
                Ok(due) => {
                    // A timeout was scheduled under the first record's key.
                    let again = f.due_at.is_some();
                    f.awaiting_task = None;
                    f.due_at = Some(due);
                    writes.push(self.ready_write(tenant, &f, due, again));
                }
                Err(why) => {
                    f.status = RunStatus::Skipped;
                    f.reason = Some(why);
                    f.finished_at = Some(now);
                    writes.extend(pending_delete(tenant, &f));
                    if let Some(after) = &f.next_run {
                        writes.extend(self.ready_follower(tenant, after, &item, now).await?);
                    }
                }
            }
            f.version = fv + 1;
            writes.push(put(record_doc(tenant, &f, f.version), Cond::Version(fv)));
            writes.push(Write::Check {
                key: DocKey::new(tenant, Kind::Item, &item.id),
                cond: Cond::Version(item.version),
            });
            match self.ports.store.transact(writes).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(crate::error::EngineError::Conflict(format!(
            "the robot waiting for task '{task_id}' is being changed concurrently"
        )))
    }
}
