//! Trigger evaluation of queued events (SPEC.md §3): resolve the event's
//! item(s), apply the selection rule, move the stage, record the evaluation.
//! Idempotent: the evaluation's run-log record is written in the same
//! transaction as the move it causes, under a key derived from the event id.

use serde_json::Value;

use crate::client_index::client_ref_keys;
use crate::context::{ItemContext, Outputs};
use crate::engine::Engine;
use crate::error::{EngineError, Result};
use crate::model::{
    Chain, EventRecord, ItemChange, Pipeline, QueuedEvent, RunKind, RunRecord, RunStatus, Task,
};
use crate::planning::trigger_run_id;
use crate::ports::{Cond, Kind, StoreError};
use crate::store::{doc, put, record_doc};
use crate::triggers::{EventFacts, RaisedBy, Selection, TriggerKind, TriggerSet};

impl Engine {
    /// Evaluate the triggers for a queued event: resolve its item(s), apply
    /// the selection rule, move the stage, record the evaluation.
    ///
    /// The same as [`Engine::event_items`], [`Engine::evaluate_event_items`]
    /// for all of them, then [`Engine::finish_event`]; a worker that must not
    /// spend too long on one event calls those in bounded chunks instead.
    pub async fn handle_event(&self, event: QueuedEvent) -> Result<()> {
        let item_ids = self.event_items(&event).await?;
        self.evaluate_event_items(&event, &item_ids).await?;
        self.finish_event(&event, item_ids).await
    }

    /// The items an event is evaluated for: its `item_id`, or every item
    /// whose client phone/email it names (sorted by id, without duplicates).
    pub async fn event_items(&self, event: &QueuedEvent) -> Result<Vec<String>> {
        let tenant = event.tenant.as_str();
        let mut item_ids: Vec<String> = Vec::new();
        if let Some(id) = &event.item_id {
            item_ids.push(id.clone());
        } else if let Some(c) = &event.client {
            for key in client_ref_keys(c) {
                for d in self
                    .ports
                    .store
                    .list(tenant, Kind::ClientIndex, &key)
                    .await?
                {
                    if let Some(id) = d.body.as_str() {
                        item_ids.push(id.to_string());
                    }
                }
            }
            item_ids.sort_unstable();
            item_ids.dedup();
        }
        Ok(item_ids)
    }

    /// Evaluate the event for these of its items ([`Engine::event_items`]).
    /// Idempotent per item: an item the event was evaluated for before (its
    /// run-log record exists) is left alone, so chunks may be repeated.
    pub async fn evaluate_event_items(
        &self,
        event: &QueuedEvent,
        item_ids: &[String],
    ) -> Result<()> {
        for id in item_ids {
            self.evaluate_for_item(event, id).await?;
        }
        Ok(())
    }

    /// Record that the event was evaluated for all of `item_ids` (what
    /// `GET /v1/events/{id}` shows).
    pub async fn finish_event(&self, event: &QueuedEvent, item_ids: Vec<String>) -> Result<()> {
        let tenant = event.tenant.as_str();
        let unmatched = item_ids.is_empty();
        if unmatched {
            tracing::info!(tenant = %tenant, event_id = %event.event_id, "event matched no item");
        }
        let record = EventRecord {
            event_id: event.event_id.clone(),
            event_type: event.event_type.clone(),
            status: if unmatched { "unmatched" } else { "evaluated" }.to_string(),
            reason: unmatched.then(|| "no item matches the event's item_id or client".to_string()),
            item_ids,
            occurred_at: event.occurred_at,
            processed_at: self.now(),
        };
        self.ports
            .store
            .transact(vec![put(
                doc(tenant, Kind::Event, &event.event_id, 1, None, &record),
                Cond::Any,
            )])
            .await?;
        Ok(())
    }

    async fn evaluate_for_item(&self, event: &QueuedEvent, item_id: &str) -> Result<()> {
        let tenant = event.tenant.as_str();
        let rec_id = trigger_run_id(item_id, &event.event_id);
        let internal = TriggerKind::raised_by(&event.event_type) == Some(RaisedBy::Engine);
        for _ in 0..=self.config.max_retries {
            if self.load::<RunRecord>(tenant, &rec_id).await?.is_some() {
                return Ok(()); // evaluated before: a repeated delivery
            }
            let Some(item) = self.load_item(tenant, item_id).await? else {
                return Ok(());
            };
            let (pipeline, _) = self
                .must::<Pipeline>(tenant, "pipeline", &item.pipeline_id)
                .await?;
            let triggers = self.list(tenant, &pipeline.id).await?;
            let set = TriggerSet::new(&pipeline, triggers);
            if internal && !set.has(&event.event_type) {
                return Ok(()); // engine-raised change events are only recorded where they matter
            }
            let task = match (event.event_type.as_str(), event.data.get("task_id")) {
                ("task_status", Some(Value::String(tid))) => {
                    self.load::<Task>(tenant, tid).await?.map(|(t, _)| t)
                }
                _ => None,
            };
            let responsible = self.user(tenant, &item.responsible_id).await?;
            let outputs = Outputs::new();
            let now = self.now();
            let ctx = ItemContext {
                item: &item,
                pipeline: &pipeline,
                responsible: responsible.as_ref(),
                outputs: &outputs,
                now,
            };
            let facts = EventFacts {
                event_type: &event.event_type,
                data: &event.data,
                task: task.as_ref(),
            };
            let pos = pipeline.stage_index(&item.stage_id).unwrap_or(0);
            let mut record = RunRecord {
                id: rec_id.clone(),
                kind: RunKind::Trigger,
                item_id: item_id.to_string(),
                robot_id: None,
                robot_type: None,
                trigger_id: None,
                event_type: Some(event.event_type.clone()),
                event_id: Some(event.event_id.clone()),
                stage_id: item.stage_id.clone(),
                visit: item.visit,
                status: RunStatus::Skipped,
                reason: None,
                due_at: None,
                created_at: now,
                finished_at: Some(now),
                outputs: Default::default(),
                robot: None,
                after_run: None,
                next_run: None,
                awaiting_task: None,
                chain: event.chain.clone().unwrap_or_else(|| item.chain.clone()),
                claim_until: None,
                attempts: 1,
                version: 1,
            };
            let mut writes = Vec::new();
            match set.select(pos, &facts, &ctx) {
                Selection::NoMatch(reason) => {
                    record.reason = Some(reason);
                }
                Selection::Fire(t) => {
                    record.trigger_id = Some(t.id.clone());
                    record.stage_id = t.stage_id.clone();
                    let chain = match &event.chain {
                        Some(c) => Chain {
                            id: c.id.clone(),
                            hops: c.hops + 1,
                        },
                        None => Chain {
                            id: self.ports.ids.next_id("chain"),
                            hops: 1,
                        },
                    };
                    record.chain = chain.clone();
                    if chain.hops > self.config.max_hops {
                        record.status = RunStatus::LoopStopped;
                        record.reason = Some(format!(
                            "trigger '{}' would move the item to '{}', but chain {} already made {} automatic moves (limit {})",
                            t.name,
                            t.stage_id,
                            chain.id,
                            chain.hops - 1,
                            self.config.max_hops
                        ));
                    } else {
                        record.status = RunStatus::Done;
                        record.reason = Some(format!(
                            "trigger '{}' moved the item from '{}' to '{}'",
                            t.name, item.stage_id, t.stage_id
                        ));
                        let mut moved = item.clone();
                        moved.chain = chain.clone();
                        let author = t
                            .execute_as
                            .clone()
                            .unwrap_or_else(|| item.responsible_id.clone());
                        let mut timeline = Vec::new();
                        let mv = self.apply_move(
                            &pipeline,
                            &mut moved,
                            &t.stage_id,
                            now,
                            Some(author.clone()),
                            &mut timeline,
                        );
                        moved.version = item.version + 1;
                        moved.updated_at = now;
                        let change = ItemChange {
                            tenant: tenant.to_string(),
                            item_id: item_id.to_string(),
                            version: moved.version,
                            at: now,
                            author_id: Some(author),
                            stage: Some(mv),
                            changed: Vec::new(),
                            responsible_changed: false,
                            deleted: false,
                            chain,
                            report: None,
                        };
                        writes =
                            self.item_change_writes(tenant, Some(&item), &moved, &change, timeline);
                    }
                }
            }
            writes.push(put(record_doc(tenant, &record, 1), Cond::Absent));
            match self.ports.store.transact(writes).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::Conflict(format!(
            "item '{item_id}' kept changing while evaluating event '{}'",
            event.event_id
        )))
    }
}
