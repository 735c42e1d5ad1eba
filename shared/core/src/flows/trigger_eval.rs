//! Trigger evaluation of queued events (SPEC.md §3): resolve the event's
//! item(s), apply the selection rule, move the stage, record the evaluation.
//! Idempotent: the evaluation's run-log record is written in the same
//! transaction as the move it causes, under a key derived from the event id.

use serde_json::Value;

use crate::context::{ItemContext, Outputs};
use crate::engine::Engine;
use crate::error::{EngineError, Result};
use crate::flows::event_items::{EVENT_ITEMS_PAGE, EventItemsTally};
use crate::model::{
    Chain, ClientItemsCursor, EventRecord, FanOut, ItemChange, Pipeline, QueuedEvent, RunKind,
    RunRecord, RunStatus, Task,
};
use crate::planning::trigger_run_id;
use crate::ports::{Cond, Kind, StoreError};
use crate::store::{doc, put, record_doc};
use crate::triggers::{EventFacts, RaisedBy, Selection, TriggerKind, TriggerSet};

impl Engine {
    /// Evaluate the triggers for a queued event: resolve its item(s), apply
    /// the selection rule, move the stage, record the evaluation.
    ///
    /// An event that names its item is evaluated for it and recorded. One
    /// that names a client is fanned out, a page of its items per step
    /// ([`Engine::event_items_page`]): a queued part per item
    /// ([`FanOut::Part`], evaluated for that item only), then either the
    /// listing's continuation or, after the last page, the event's record.
    /// Every step is bounded and may be repeated: each item's evaluation is
    /// idempotent (its run-log record) and the parts carry the event's id.
    pub async fn handle_event(&self, event: QueuedEvent) -> Result<()> {
        if let Some(id) = &event.item_id {
            self.evaluate_event_item(&event, id).await?;
            if event.fan_out.is_some() {
                return Ok(()); // a part: the listing records the event
            }
            let mut tally = EventItemsTally::default();
            tally.add(std::slice::from_ref(id));
            return self.finish_event(&event, tally).await;
        }
        let (cursor, mut tally) = match &event.fan_out {
            Some(FanOut::Listing {
                cursor,
                count,
                sample,
            }) => (
                cursor.clone(),
                EventItemsTally {
                    count: *count,
                    sample: sample.clone(),
                },
            ),
            _ => (ClientItemsCursor::default(), EventItemsTally::default()),
        };
        let page = self
            .event_items_page(&event, &cursor, EVENT_ITEMS_PAGE)
            .await?;
        for id in &page.items {
            self.ports
                .events
                .send(QueuedEvent {
                    item_id: Some(id.clone()),
                    fan_out: Some(FanOut::Part),
                    ..event.clone()
                })
                .await?;
        }
        tally.add(&page.items);
        match page.next {
            Some(cursor) => {
                let count = tally.count;
                let sample = tally.sample;
                self.ports
                    .events
                    .send(QueuedEvent {
                        fan_out: Some(FanOut::Listing {
                            cursor,
                            count,
                            sample,
                        }),
                        ..event
                    })
                    .await?;
                Ok(())
            }
            None => self.finish_event(&event, tally).await,
        }
    }

    /// Evaluate the event for one of its items. Idempotent: an item the
    /// event was evaluated for before (its run-log record exists) is left
    /// alone, so steps may be repeated.
    pub async fn evaluate_event_item(&self, event: &QueuedEvent, item_id: &str) -> Result<()> {
        self.evaluate_for_item(event, item_id).await
    }

    /// Record that the event was evaluated for the items `tally` counts
    /// (what `GET /v1/events/{id}` shows: the count and the first ids).
    pub async fn finish_event(&self, event: &QueuedEvent, tally: EventItemsTally) -> Result<()> {
        let tenant = event.tenant.as_str();
        let unmatched = tally.count == 0;
        if unmatched {
            tracing::info!(tenant = %tenant, event_id = %event.event_id, "event matched no item");
        }
        let record = EventRecord {
            event_id: event.event_id.clone(),
            event_type: event.event_type.clone(),
            status: if unmatched { "unmatched" } else { "evaluated" }.to_string(),
            reason: unmatched.then(|| "no item matches the event's item_id or client".to_string()),
            item_ids: tally.sample,
            item_count: tally.count,
            occurred_at: event.occurred_at,
            processed_at: self.now(),
        };
        let mut d = doc(tenant, Kind::Event, &event.event_id, 1, None, &record);
        d.expires_at = Some((record.processed_at + self.config.event_retention).timestamp());
        self.ports.store.transact(vec![put(d, Cond::Any)]).await?;
        Ok(())
    }

    async fn evaluate_for_item(&self, event: &QueuedEvent, item_id: &str) -> Result<()> {
        let tenant = event.tenant.as_str();
        let rec_id = trigger_run_id(item_id, &event.event_id);
        let internal = TriggerKind::raised_by(&event.event_type) == Some(RaisedBy::Engine);
        for attempt in 0..=self.config.max_retries {
            // The record is written on the condition that it is absent, so a
            // repeated delivery cannot evaluate twice; it is looked up only
            // after a commit lost (issue #11: no read of a record that does
            // not exist yet on the usual path).
            if attempt > 0 && self.load::<RunRecord>(tenant, &rec_id).await?.is_some() {
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
                delivery: None,
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
