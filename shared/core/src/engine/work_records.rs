//! What robots make: tasks, activities, notifications, chats, messages, the feed, outbound messages.

use chrono::{DateTime, Utc};

use crate::api::TaskPatch;
use crate::check::Refs;
use crate::error::{EngineError, Result};
use crate::model::{
    Activity, Chain, Channel, Chat, FeedPost, Message, Notification, Outbound, OutboxRecord,
    QueuedEvent, Task, TaskStatus, TimelineEntry,
};
use crate::ports::{Cond, DocKey, Kind, StoreError, Write};
use crate::store::{TimelineSlots, put, record_doc, timeline_counter_key, timeline_write};

use super::{Engine, unprocessable};

impl Engine {
    // ---------------------------------------------------------------- work records

    pub async fn list_tasks(&self, tenant: &str, item_id: &str) -> Result<Vec<Task>> {
        let mut v: Vec<Task> = self.list(tenant, item_id).await?;
        v.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(v)
    }

    pub async fn get_task(&self, tenant: &str, id: &str) -> Result<Task> {
        let (mut t, v): (Task, u64) = self.must(tenant, "task", id).await?;
        t.version = v;
        Ok(t)
    }

    /// Change a task's status; a change fires `task_status` triggers of its item.
    pub async fn patch_task(&self, tenant: &str, id: &str, patch: TaskPatch) -> Result<Task> {
        if let Some(a) = &patch.author_id {
            let refs = Refs {
                users: vec![("author_id".into(), a.clone())],
                ..Refs::default()
            };
            unprocessable(self.check_refs(tenant, &refs).await?)?;
        }
        for _ in 0..=self.config.max_retries {
            let old = self.get_task(tenant, id).await?;
            if old.status == patch.status {
                return Ok(old);
            }
            // The entry goes after the item's timeline so far (see
            // `store::timeline_id`); the item may be gone.
            let got = self
                .ports
                .store
                .get_many(&[
                    DocKey::new(tenant, Kind::Item, &old.item_id),
                    timeline_counter_key(tenant, &old.item_id),
                ])
                .await?;
            let slots = match &got[0] {
                Some(d) => TimelineSlots::new(&old.item_id, d.version, got[1].as_ref())?,
                None => TimelineSlots::after_deletion(&old.item_id),
            };
            let now = self.now();
            let mut task = old.clone();
            task.status = patch.status;
            task.completed_at = (patch.status == TaskStatus::Completed).then_some(now);
            task.version = old.version + 1;
            let mut writes = self.task_status_writes(
                tenant,
                &old,
                &task,
                now,
                patch.author_id.clone(),
                self.new_chain(),
                (&slots, 0),
            );
            writes.extend(slots.counter_write(tenant));
            if let Some(d) = &got[0] {
                writes.push(Write::Check {
                    key: d.key.clone(),
                    cond: Cond::Version(d.version),
                });
            }
            match self.ports.store.transact(writes).await {
                Ok(()) => return Ok(task),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::Conflict(format!(
            "task '{id}' is being changed concurrently"
        )))
    }

    /// Writes for a task status change: the task, a timeline entry, and the
    /// `task_status` event (through the outbox).
    #[allow(clippy::too_many_arguments)] // the change, who, when, and where its entry goes
    pub(crate) fn task_status_writes(
        &self,
        tenant: &str,
        old: &Task,
        task: &Task,
        now: DateTime<Utc>,
        author: Option<String>,
        chain: Chain,
        (slots, sub): (&TimelineSlots, usize),
    ) -> Vec<Write> {
        let mut writes = vec![put(
            record_doc(tenant, task, task.version),
            Cond::Version(old.version),
        )];
        let (kind, text) = if task.status == TaskStatus::Completed {
            ("task_completed", format!("Task completed: {}", task.title))
        } else {
            (
                "task_status",
                format!("Task {} is now {}", task.title, task.status.as_str()),
            )
        };
        writes.push(timeline_write(
            tenant,
            &TimelineEntry {
                id: slots.id(now, sub, &format!("{}-{}", task.id, task.version)),
                item_id: task.item_id.clone(),
                at: now,
                kind: kind.into(),
                author_id: author,
                text,
                data: serde_json::json!({"task_id": task.id, "status": task.status}),
            },
        ));
        let event = QueuedEvent {
            tenant: tenant.to_string(),
            event_id: format!("task-{}-{}", task.id, task.version),
            event_type: "task_status".into(),
            item_id: Some(task.item_id.clone()),
            client: None,
            data: serde_json::json!({"task_id": task.id, "status": task.status}),
            occurred_at: now,
            chain: Some(chain),
            fan_out: None,
        };
        writes.push(self.outbox_write(
            tenant,
            &format!("event|{}", event.event_id),
            &OutboxRecord::Event(event),
        ));
        writes
    }

    pub async fn list_activities(&self, tenant: &str, item_id: &str) -> Result<Vec<Activity>> {
        let mut v: Vec<Activity> = self.list(tenant, item_id).await?;
        v.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(v)
    }

    pub async fn list_notifications(
        &self,
        tenant: &str,
        user_id: &str,
    ) -> Result<Vec<Notification>> {
        let mut v: Vec<Notification> = self.list(tenant, user_id).await?;
        v.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        Ok(v)
    }

    pub async fn get_chat(&self, tenant: &str, id: &str) -> Result<(Chat, Vec<Message>)> {
        let (mut chat, v): (Chat, u64) = self.must(tenant, "chat", id).await?;
        chat.version = v;
        let mut msgs: Vec<Message> = self.list(tenant, &format!("chat:{id}")).await?;
        msgs.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        Ok((chat, msgs))
    }

    pub async fn list_messages(&self, tenant: &str, user_id: &str) -> Result<Vec<Message>> {
        let mut v: Vec<Message> = self.list(tenant, &format!("user:{user_id}")).await?;
        v.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        Ok(v)
    }

    pub async fn list_feed(&self, tenant: &str) -> Result<Vec<FeedPost>> {
        let mut v: Vec<FeedPost> = self.list(tenant, "feed").await?;
        v.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        Ok(v)
    }

    pub async fn list_outbound(
        &self,
        tenant: &str,
        channel: Option<Channel>,
    ) -> Result<Vec<Outbound>> {
        let mut v: Vec<Outbound> = Vec::new();
        for c in Channel::ALL {
            if channel.is_none_or(|x| x == c) {
                v.extend(self.list::<Outbound>(tenant, c.as_str()).await?);
            }
        }
        v.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        Ok(v)
    }
}
