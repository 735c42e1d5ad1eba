//! Tasks and activities listed per responsible user (`GET /v1/tasks?
//! responsible_id=`, `GET /v1/activities?responsible_id=`).
//!
//! A task or activity is stored once, listed under its item. Each also has a
//! small list entry under its responsible user, written in the same
//! transaction as the record when a robot creates it: the entry names the
//! record, which the list then reads by key. The responsible of a task or
//! activity is set when it is created and never changes afterwards (status
//! changes rewrite the record, not the entry), so an entry never moves;
//! records are never deleted, so neither are entries.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::model::{Activity, Task};
use crate::ports::{Cond, Kind, Write};
use crate::store::{Record, put, record_doc};

/// The list entry of a task under its responsible user (id = the task's id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserTask {
    pub task_id: String,
    pub item_id: String,
    pub responsible_id: String,
}

/// The list entry of an activity under its responsible user (id = the
/// activity's id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserActivity {
    pub activity_id: String,
    pub item_id: String,
    pub responsible_id: String,
}

impl Record for UserTask {
    const KIND: Kind = Kind::UserTask;
    fn id(&self) -> &str {
        &self.task_id
    }
    fn parent(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.responsible_id))
    }
}

impl Record for UserActivity {
    const KIND: Kind = Kind::UserActivity;
    fn id(&self) -> &str {
        &self.activity_id
    }
    fn parent(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.responsible_id))
    }
}

/// The writes of a new task: the task, listed under its item, and its entry
/// under its responsible. Unconditional, as a robot's retried commit writes
/// the same ids again.
pub fn task_writes(tenant: &str, task: &Task) -> Vec<Write> {
    let entry = UserTask {
        task_id: task.id.clone(),
        item_id: task.item_id.clone(),
        responsible_id: task.responsible_id.clone(),
    };
    vec![
        put(record_doc(tenant, task, task.version.max(1)), Cond::Any),
        put(record_doc(tenant, &entry, 1), Cond::Any),
    ]
}

/// The writes of a new activity: the activity, listed under its item, and
/// its entry under its responsible (unconditional, as [`task_writes`]).
pub fn activity_writes(tenant: &str, activity: &Activity) -> Vec<Write> {
    let entry = UserActivity {
        activity_id: activity.id.clone(),
        item_id: activity.item_id.clone(),
        responsible_id: activity.responsible_id.clone(),
    };
    vec![
        put(record_doc(tenant, activity, 1), Cond::Any),
        put(record_doc(tenant, &entry, 1), Cond::Any),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_is_listed_under_its_item_and_its_responsible() {
        let task: Task = serde_json::from_value(serde_json::json!({
            "id": "task-1", "item_id": "i1", "pipeline_id": "deals", "stage_id": "prep",
            "robot_id": "r1", "title": "Design", "description": "", "responsible_id": "u-dina",
            "deadline": null, "status": "pending", "created_at": "2026-12-01T10:00:00Z",
            "completed_at": null, "version": 1,
        }))
        .unwrap();
        let writes = task_writes("t", &task);
        let parents: Vec<(Kind, Option<String>)> = writes
            .iter()
            .map(|w| match w {
                Write::Put { doc, .. } => (doc.key.kind, doc.parent.clone()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            parents,
            [
                (Kind::Task, Some("i1".into())),
                (Kind::UserTask, Some("u-dina".into()))
            ]
        );
    }
}
