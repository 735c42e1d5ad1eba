//! A person steering the robots of one item's current visit: "run now"
//! (skip a pending robot's delay) and "stop automation" (cancel the
//! visit's pending robots), both recorded in the run log and the timeline,
//! and the per-item badge counts of the kanban.
//!
//! Both go through the normal machinery: a run made due now is dispatched
//! by a `RunReady` outbox record written in the same transaction (so it
//! runs through the robot queue, once: the runner's commit is guarded by
//! the run record's version), and every write is guarded by the item's
//! version, so that a run of a visit that has just ended is never touched.
//! Timers of the old due times are cancelled afterwards (tidy-up: a timer
//! that fires anyway finds the run final, or due already, and does nothing
//! twice).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::delay::Delay;
use crate::error::{EngineError, Result};
use crate::model::{Item, OutboxRecord, RunKind, RunRecord, RunStatus, TimelineEntry};
use crate::ports::{Cond, DocKey, Job, Kind, MAX_TRANSACTION_WRITES, StoreError, Write};
use crate::store::{
    TimelineSlots, indexed, pending_delete, pending_unindex, put, record_doc, timeline_counter_key,
    timeline_write,
};

use super::Engine;

/// Most item ids one `run_summary` call takes.
pub const MAX_SUMMARY_IDS: usize = 100;

/// Runs cancelled per transaction by [`Engine::stop_automation`] (each
/// takes up to three writes: the record, its pending-run index entry and,
/// for a waiting run, its webhook call).
const STOP_CHUNK: usize = (MAX_TRANSACTION_WRITES - 4) / 3;

/// The badge of one item: robot runs of its current visit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RunCounts {
    /// Not final yet (waiting for their time or the previous robot, or running).
    pub pending: u64,
    /// Failed.
    pub failed: u64,
}

/// What [`Engine::stop_automation`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Stopped {
    /// The runs it cancelled (now `cancelled`), in the run log's order.
    pub runs: Vec<RunRecord>,
}

fn status_name(s: RunStatus) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl Engine {
    /// An item and its timeline counter, read together.
    async fn item_with_counter(
        &self,
        tenant: &str,
        item_id: &str,
    ) -> Result<(Item, Option<crate::ports::Doc>)> {
        let got = self
            .ports
            .store
            .get_many(&[
                DocKey::new(tenant, Kind::Item, item_id),
                timeline_counter_key(tenant, item_id),
            ])
            .await?;
        let Some(d) = &got[0] else {
            return Err(EngineError::not_found("item", item_id));
        };
        let mut item: Item = crate::store::decode(d)?;
        item.version = d.version;
        Ok((item, got[1].clone()))
    }

    /// Skip the delay of a pending robot run of the item's current visit:
    /// it becomes due now and goes through the robot queue (the runner still
    /// checks its condition). A run waiting for its previous robot
    /// (`after_previous`) keeps waiting, and starts at once when that one
    /// finishes; one waiting for the previous robot's task to be completed
    /// (`wait_for: task_completed`) runs now. Recorded: the run's `reason` says "run now by `by`", and a
    /// timeline entry `info`.
    ///
    /// Errors: unknown item or run (or a run of another item, or a trigger
    /// evaluation) → 404; a final run, one being performed, or one of a past
    /// visit → 409 saying its status.
    pub async fn run_now(
        &self,
        tenant: &str,
        item_id: &str,
        run_id: &str,
        by: &str,
    ) -> Result<RunRecord> {
        for _ in 0..=self.config.max_retries {
            let (item, counter) = self.item_with_counter(tenant, item_id).await?;
            let (mut run, v) = match self.load::<RunRecord>(tenant, run_id).await? {
                Some((r, v)) if r.item_id == item_id && r.kind == RunKind::Robot => (r, v),
                _ => return Err(EngineError::not_found("run", run_id)),
            };
            if run.status.is_final() {
                return Err(EngineError::Conflict(format!(
                    "run '{run_id}' is {} already: only a pending run can run now",
                    status_name(run.status)
                )));
            }
            if run.visit != item.visit {
                return Err(EngineError::Conflict(format!(
                    "run '{run_id}' is {} but belongs to a past visit of stage '{}' \
                     (the item is in '{}' now): only a run of the current visit can run now",
                    status_name(run.status),
                    run.stage_id,
                    item.stage_id
                )));
            }
            if run.status == RunStatus::Running {
                return Err(EngineError::Conflict(format!(
                    "run '{run_id}' is running: it is being performed right now"
                )));
            }
            if run.status == RunStatus::Waiting {
                return Err(EngineError::Conflict(format!(
                    "run '{run_id}' is waiting: it was performed and waits for its outcome (a webhook's answer)"
                )));
            }
            let now = self.now();
            let old_due = run.due_at;
            let was_indexed = indexed(&run);
            // A run waiting for the previous robot's task (a task chain)
            // stops waiting: "run now" runs it now.
            let waiting = old_due.is_none() && run.awaiting_task.is_none();
            // The delay is skipped for good: also when a waiting run is
            // readied later, its due time is "now" then.
            if let Some(robot) = run.robot.as_mut() {
                robot.delay = Delay::Immediately;
                robot.respect_working_hours = false;
            }
            run.reason = Some(if waiting {
                format!(
                    "run now by {by}: waits for the previous robot to finish first, then runs at once"
                )
            } else {
                format!("run now by {by}")
            });
            if !waiting {
                run.due_at = Some(now.min(old_due.unwrap_or(now)));
                run.awaiting_task = None;
            }
            run.version = v + 1;
            let slots = TimelineSlots::new(&item.id, item.version, counter.as_ref())?;
            let robot_name = run
                .robot
                .as_ref()
                .map_or_else(|| run_id.to_string(), |r| r.name.clone());
            let entry = TimelineEntry {
                id: slots.id(now, 0, &format!("{run_id}-now-{}", run.version)),
                item_id: item.id.clone(),
                at: now,
                kind: "info".into(),
                author_id: None,
                text: if waiting {
                    format!(
                        "Robot \"{robot_name}\": run now by {by} (it waits for the previous robot)"
                    )
                } else {
                    format!("Robot \"{robot_name}\": run now by {by}")
                },
                data: serde_json::json!({"run_id": run_id, "action": "run_now", "by": by}),
            };
            let mut writes = vec![
                put(record_doc(tenant, &run, run.version), Cond::Version(v)),
                Write::Check {
                    key: DocKey::new(tenant, Kind::Item, &item.id),
                    cond: Cond::Version(item.version),
                },
                timeline_write(tenant, &entry),
            ];
            writes.extend(slots.counter_write(tenant));
            // Made due "now" at the instant it was planned, it no longer
            // looks indexed: its commit would leave the entry behind.
            if was_indexed && !indexed(&run) {
                writes.extend(pending_unindex(tenant, &run));
            }
            if let Some(due) = run.due_at.filter(|_| !waiting) {
                writes.push(self.outbox_write(
                    tenant,
                    &format!("ready|{}|now{}", run.id, run.version),
                    &OutboxRecord::RunReady(Job {
                        tenant: tenant.to_string(),
                        run_id: run.id.clone(),
                        item_id: item.id.clone(),
                        visit: run.visit,
                        due_at: due,
                        then: Vec::new(),
                    }),
                ));
            }
            match self.ports.store.transact(writes).await {
                Ok(()) => {}
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
            tracing::info!(%tenant, run_id, by, waiting, "run now");
            if old_due.is_some_and(|d| d > now) {
                self.cancel_timer(tenant, run_id).await;
            }
            return Ok(run);
        }
        Err(EngineError::Conflict(format!(
            "item '{item_id}' is being changed concurrently; retry"
        )))
    }

    /// Cancel every pending robot run of the item's current visit, recorded
    /// with the reason "automation stopped by `by`[: `why`]" and one timeline
    /// entry `info`. Runs being performed right now finish. Idempotent: a
    /// second call cancels nothing (and writes nothing). The next stage
    /// change plans robots as usual. Errors: unknown item → 404.
    pub async fn stop_automation(
        &self,
        tenant: &str,
        item_id: &str,
        by: &str,
        why: Option<&str>,
    ) -> Result<Stopped> {
        let reason = match why.map(str::trim).filter(|w| !w.is_empty()) {
            Some(w) => format!("automation stopped by {by}: {w}"),
            None => format!("automation stopped by {by}"),
        };
        let mut cancelled: Vec<RunRecord> = Vec::new();
        let mut tries = 0;
        loop {
            let (item, counter) = self.item_with_counter(tenant, item_id).await?;
            let pending: Vec<(RunRecord, u64)> = self
                .visit_run_docs(tenant, item_id, item.visit)
                .await?
                .iter()
                .map(|d| {
                    crate::store::decode::<RunRecord>(d).map(|mut r| {
                        r.version = d.version;
                        (r, d.version)
                    })
                })
                .collect::<Result<Vec<_>>>()?
                .into_iter()
                .filter(|(r, _)| matches!(r.status, RunStatus::Pending | RunStatus::Waiting))
                .collect();
            if pending.is_empty() {
                break;
            }
            let now = self.now();
            let last_chunk = pending.len() <= STOP_CHUNK;
            let mut call_deletes = Vec::new();
            let chunk: Vec<RunRecord> = pending
                .into_iter()
                .take(STOP_CHUNK)
                .map(|(mut r, v)| {
                    if r.status == RunStatus::Waiting {
                        // Its webhook call is dropped with it.
                        call_deletes.push(crate::webhook::call::call_delete(tenant, &r.id));
                    }
                    r.status = RunStatus::Cancelled;
                    r.reason = Some(reason.clone());
                    r.finished_at = Some(now);
                    r.version = v + 1;
                    r
                })
                .collect();
            let mut writes = vec![Write::Check {
                key: DocKey::new(tenant, Kind::Item, &item.id),
                cond: Cond::Version(item.version),
            }];
            writes.append(&mut call_deletes);
            for r in &chunk {
                writes.push(put(
                    record_doc(tenant, r, r.version),
                    Cond::Version(r.version - 1),
                ));
                writes.extend(pending_delete(tenant, r));
            }
            if last_chunk {
                let slots = TimelineSlots::new(&item.id, item.version, counter.as_ref())?;
                let n = cancelled.len() + chunk.len();
                let entry = TimelineEntry {
                    id: slots.id(now, 0, &format!("stop-{}", self.ports.ids.next_id("stop"))),
                    item_id: item.id.clone(),
                    at: now,
                    kind: "info".into(),
                    author_id: None,
                    text: format!(
                        "Automation stopped by {by}{}: {n} pending robot{} cancelled",
                        why.map(str::trim)
                            .filter(|w| !w.is_empty())
                            .map(|w| format!(" ({w})"))
                            .unwrap_or_default(),
                        if n == 1 { "" } else { "s" }
                    ),
                    data: serde_json::json!({"action": "stop_automation", "by": by, "cancelled": n}),
                };
                writes.push(timeline_write(tenant, &entry));
                writes.extend(slots.counter_write(tenant));
            }
            match self.ports.store.transact(writes).await {
                Ok(()) => {
                    self.cancel_timers(tenant, &chunk, now).await;
                    cancelled.extend(chunk);
                    if last_chunk {
                        break;
                    }
                }
                Err(StoreError::Conflict { .. }) if tries < self.config.max_retries => {
                    tries += 1;
                }
                Err(StoreError::Conflict { .. }) => {
                    return Err(EngineError::Conflict(format!(
                        "item '{item_id}' is being changed concurrently; retry"
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
        tracing::info!(%tenant, item_id, by, cancelled = cancelled.len(), "automation stopped");
        let order = |r: &RunRecord| r.robot.as_ref().map_or(u64::MAX, |x| x.order);
        cancelled.sort_by(|a, b| (order(a), &a.id).cmp(&(order(b), &b.id)));
        Ok(Stopped { runs: cancelled })
    }

    async fn cancel_timers(&self, tenant: &str, runs: &[RunRecord], now: DateTime<Utc>) {
        for r in runs {
            if r.due_at.is_some_and(|d| d > now) {
                self.cancel_timer(tenant, &r.id).await;
            }
        }
    }

    /// Tidy-up only (a timer that fires finds the run final or due): a
    /// failure is logged, not returned.
    async fn cancel_timer(&self, tenant: &str, run_id: &str) {
        if let Err(e) = self.ports.scheduler.cancel(tenant, run_id).await {
            tracing::warn!(%tenant, run_id, error = %e, "could not cancel a run's timer");
        }
    }

    /// Badge counts of items: per item id (at most [`MAX_SUMMARY_IDS`]),
    /// the robot runs of its current visit that are pending (or running)
    /// and failed. Unknown ids are left out. Reads only.
    pub async fn run_summary(
        &self,
        tenant: &str,
        ids: &[String],
    ) -> Result<BTreeMap<String, RunCounts>> {
        if ids.len() > MAX_SUMMARY_IDS {
            return Err(EngineError::invalid(
                "ids",
                format!("at most {MAX_SUMMARY_IDS} item ids"),
            ));
        }
        let keys: Vec<DocKey> = ids
            .iter()
            .map(|id| DocKey::new(tenant, Kind::Item, id.as_str()))
            .collect();
        let items = if keys.is_empty() {
            Vec::new()
        } else {
            self.ports.store.get_many(&keys).await?
        };
        let mut out = BTreeMap::new();
        for d in items.into_iter().flatten() {
            let item: Item = crate::store::decode(&d)?;
            let runs: Vec<RunRecord> = self.visit_runs(tenant, &item.id, item.visit).await?;
            let mut counts = RunCounts::default();
            for r in &runs {
                match r.status {
                    RunStatus::Pending | RunStatus::Running | RunStatus::Waiting => {
                        counts.pending += 1
                    }
                    RunStatus::Failed => counts.failed += 1,
                    _ => {}
                }
            }
            out.insert(item.id, counts);
        }
        Ok(out)
    }
}
