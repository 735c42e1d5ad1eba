//! The stage-change step (processing transactional-outbox records: ending
//! visits, planning robots, queueing change events, handing messages to the
//! delivery port) and trigger evaluation of queued events.
//!
//! Both are idempotent: processing the same record or event twice has one
//! effect (run records are created with "must not exist" conditions; a trigger
//! evaluation's run-log record is written in the same transaction as the move
//! it causes, under a key derived from the event id).

use chrono::{DateTime, Utc};
use futures::{StreamExt, future, stream};
use serde_json::Value;

use crate::engine::Engine;
use crate::error::Result;
use crate::model::{
    Activity, Chain, ItemChange, OutboxRecord, QueuedEvent, RunRecord, RunStatus, TimelineEntry,
};
use crate::planning::{needs_responsible, plan_runs, robot_due};
use crate::ports::{Cond, Doc, DocKey, Job, Kind, MAX_TRANSACTION_WRITES, StoreError, Write};
use crate::reports::{self, Deltas, tally::visit_deltas};
use crate::robots::Robot;
use crate::store::{
    decode, follow_up_timeline_id, pending_delete, pending_put, put, record_doc, timeline_write,
};
use crate::workhours::WorkCalendar;

/// Most schedule creations of one dispatch in flight at once. EventBridge
/// Scheduler's `CreateSchedule` rate quota (1,000–5,000 requests/s in the
/// large regions, 250 elsewhere) is shared by every concurrent invocation: a
/// small bound per dispatch keeps one visit fast without one invocation
/// bursting into the quota.
pub const SCHEDULE_CONCURRENCY: usize = 8;

impl Engine {
    /// Process one outbox record, then delete it. Safe to call more than once
    /// for the same record, and after a crash half way.
    pub async fn process_outbox(&self, d: Doc) -> Result<()> {
        let record: OutboxRecord = decode(&d)?;
        let mut counts = Deltas::default();
        let mut successor = None;
        match record {
            OutboxRecord::ItemChanged(c) => {
                self.on_item_changed(&c).await?;
                counts = visit_deltas(&c);
            }
            OutboxRecord::RunReady(job) => self.dispatch_jobs(vec![job]).await?,
            OutboxRecord::Event(e) => {
                self.ready_task_waiter(&e).await?;
                self.ports.events.send(e).await?
            }
            OutboxRecord::Deliver {
                tenant,
                outbound_id,
            } => self.deliver_outbound(&tenant, &outbound_id).await?,
            OutboxRecord::Audience(change) => self.audiences.apply(&change).await?,
            OutboxRecord::CallWebhook { tenant, run_id } => {
                self.webhook_attempt(&tenant, &run_id).await?
            }
            OutboxRecord::CancelRobotRuns {
                tenant,
                robot_id,
                page,
                after,
            } => {
                successor = self
                    .cancel_runs_step(&tenant, &robot_id, page, after.as_deref())
                    .await?;
            }
        }
        if counts.is_empty() && successor.is_none() {
            self.ports
                .store
                .transact(vec![Write::Delete {
                    parent: d.parent.clone(),
                    key: d.key,
                    cond: Cond::Any,
                }])
                .await?;
            return Ok(());
        }
        // The visit's counts, or the record that carries its work on, go
        // with the record's deletion: a record processed twice (a repeated
        // stream record, the sweeper and the stream at once, a crash before
        // the deletion) counts, or is carried on, once.
        let delete = Write::Delete {
            parent: d.parent.clone(),
            key: d.key.clone(),
            cond: Cond::Version(d.version),
        };
        let writes = std::iter::once(delete).chain(successor).collect();
        match reports::commit(&*self.ports.store, writes, counts).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict { .. }) if self.ports.store.get(&d.key).await?.is_none() => {
                Ok(()) // processed (and counted) by someone else
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn on_item_changed(&self, c: &ItemChange) -> Result<()> {
        let tenant = c.tenant.as_str();
        if let Some(mv) = &c.stage {
            let left = mv.from_stage.is_some() && (mv.from_visit != mv.to_visit || c.deleted);
            if left {
                let reason = if c.deleted {
                    "cancelled: the item was deleted before the robot ran".to_string()
                } else {
                    format!(
                        "cancelled: the item left stage '{}' for '{}' before the robot ran",
                        mv.from_stage.as_deref().unwrap_or_default(),
                        mv.to_stage
                    )
                };
                self.end_visit(tenant, &c.item_id, mv.from_visit, c.at, c.version, &reason)
                    .await?;
            }
            if !c.deleted && mv.to_visit != mv.from_visit {
                self.plan_visit(
                    tenant,
                    &c.item_id,
                    &mv.to_stage,
                    mv.to_visit,
                    c.at,
                    &c.chain,
                )
                .await?;
            }
        }
        if c.deleted {
            return Ok(());
        }
        if c.changed.iter().any(|f| f.starts_with("fields.")) {
            self.follow_date_fields(tenant, &c.item_id, &c.changed, c.at)
                .await?;
        }
        let event = |kind: &str, data: Value| QueuedEvent {
            tenant: tenant.to_string(),
            event_id: format!("{kind}-{}-{}", c.item_id, c.version),
            event_type: kind.to_string(),
            item_id: Some(c.item_id.clone()),
            client: None,
            data,
            occurred_at: c.at,
            chain: Some(c.chain.clone()),
            fan_out: None,
        };
        let fields: Vec<&String> = c
            .changed
            .iter()
            .filter(|f| *f != "responsible_id")
            .collect();
        if !fields.is_empty() {
            self.ports
                .events
                .send(event(
                    "field_changed",
                    serde_json::json!({ "fields": c.changed }),
                ))
                .await?;
        }
        if c.responsible_changed {
            self.ports
                .events
                .send(event("responsible_changed", Value::Null))
                .await?;
        }
        Ok(())
    }

    /// Robots relative to a date field follow the field: a pending run of the
    /// current visit whose delay is relative to one of the `changed` fields
    /// and that is not due yet gets its due time recomputed from the item as
    /// it is now (with the robot settings it was planned with) and its timer
    /// moved (cancel + schedule under the same deterministic name); a cleared
    /// field skips the run with the reason (and readies the robot waiting for
    /// it). Idempotent: a repeated delivery finds the due time already right,
    /// and only schedules the timer again (the scheduler keeps one per name);
    /// a run that a runner has claimed meanwhile is left alone (the record's
    /// version guards the write).
    async fn follow_date_fields(
        &self,
        tenant: &str,
        item_id: &str,
        changed: &[String],
        at: DateTime<Utc>,
    ) -> Result<()> {
        let Some(item) = self.load_item(tenant, item_id).await? else {
            return Ok(());
        };
        let mut responsible: Option<Option<WorkCalendar>> = None;
        let runs = self.visit_run_docs(tenant, item_id, item.visit).await?;
        for d in runs {
            let Ok(mut run) = decode::<RunRecord>(&d) else {
                continue;
            };
            let Some(robot) = run.robot.clone() else {
                continue;
            };
            let Some(field) = robot.delay.field() else {
                continue;
            };
            let Some(old_due) = run.due_at else {
                continue; // waits for its previous robot: computed when readied
            };
            if run.status != RunStatus::Pending
                || old_due <= at
                || !changed.iter().any(|c| c == field)
            {
                continue;
            }
            if responsible.is_none() {
                let user = self.user(tenant, &item.responsible_id).await?;
                responsible = Some(user.as_ref().and_then(Engine::calendar));
            }
            let cal = responsible.as_ref().and_then(Option::as_ref);
            let tz = cal.map_or(chrono_tz::UTC, |c| c.tz);
            let job = |due_at| Job {
                tenant: tenant.to_string(),
                run_id: run.id.clone(),
                item_id: item_id.to_string(),
                visit: run.visit,
                due_at,
                then: Vec::new(),
            };
            match robot_due(&robot, &item, at, cal, tz) {
                Ok(due) if due == old_due => {
                    // Already moved (a repeated delivery): make sure the timer is there.
                    self.dispatch_jobs(vec![job(due)]).await?;
                }
                Ok(due) => {
                    run.due_at = Some(due);
                    run.version = d.version + 1;
                    let w = put(
                        record_doc(tenant, &run, run.version),
                        Cond::Version(d.version),
                    );
                    match self.ports.store.transact(vec![w]).await {
                        Ok(()) => {}
                        // A runner claimed it meanwhile: it runs as it was.
                        Err(StoreError::Conflict { .. }) => continue,
                        Err(e) => return Err(e.into()),
                    }
                    self.ports.scheduler.cancel(tenant, &run.id).await?;
                    self.dispatch_jobs(vec![job(due)]).await?;
                }
                Err(_) => {
                    run.status = RunStatus::Skipped;
                    run.reason = Some(format!(
                        "skipped: the date field '{field}' was cleared before the robot ran"
                    ));
                    run.finished_at = Some(at);
                    run.version = d.version + 1;
                    let mut writes = Vec::new();
                    if let Some(next) = &run.next_run {
                        writes.extend(self.ready_follower(tenant, next, &item, at).await?);
                    }
                    writes.push(put(
                        record_doc(tenant, &run, run.version),
                        Cond::Version(d.version),
                    ));
                    writes.extend(pending_delete(tenant, &run));
                    match self.ports.store.transact(writes).await {
                        Ok(()) => {}
                        Err(StoreError::Conflict { .. }) => continue,
                        Err(e) => return Err(e.into()),
                    }
                    self.ports.scheduler.cancel(tenant, &run.id).await?;
                }
            }
        }
        Ok(())
    }

    /// End a visit: its pending runs are cancelled (recorded), their timers
    /// deleted (tidy-up: the runner's visit check is the guarantee), and its
    /// auto-completing activities completed.
    async fn end_visit(
        &self,
        tenant: &str,
        item_id: &str,
        visit: u64,
        at: DateTime<Utc>,
        seq: u64,
        reason: &str,
    ) -> Result<()> {
        let runs = self.visit_run_docs(tenant, item_id, visit).await?;
        // The visit's activities are those its runs planned (their output).
        let mut activities = Vec::new();
        for d in runs {
            let Ok(mut run) = decode::<RunRecord>(&d) else {
                continue;
            };
            if run.status == RunStatus::Done
                && let Some(id) = run.outputs.get("activity_id").and_then(|v| v.as_str())
            {
                activities.push(DocKey::new(tenant, Kind::Activity, id));
            }
            if !matches!(run.status, RunStatus::Pending | RunStatus::Waiting) {
                continue;
            }
            let was_waiting = run.status == RunStatus::Waiting;
            run.status = RunStatus::Cancelled;
            run.reason = Some(reason.to_string());
            run.finished_at = Some(at);
            run.version = d.version + 1;
            let mut w = vec![put(
                record_doc(tenant, &run, run.version),
                Cond::Version(d.version),
            )];
            w.extend(pending_delete(tenant, &run));
            if was_waiting {
                w.push(crate::webhook::call::call_delete(tenant, &run.id));
            }
            match self.ports.store.transact(w).await {
                // A runner took it meanwhile: it will see the visit is over.
                Ok(()) | Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            if run.due_at.is_some_and(|due| due > at) {
                self.ports.scheduler.cancel(tenant, &run.id).await?;
            }
        }
        let activities = if activities.is_empty() {
            Vec::new()
        } else {
            self.ports.store.get_many(&activities).await?
        };
        for d in activities.iter().flatten() {
            let Ok(mut a) = decode::<Activity>(d) else {
                continue;
            };
            if !a.auto_complete || a.completed {
                continue;
            }
            a.completed = true;
            a.completed_at = Some(at);
            let entry = TimelineEntry {
                id: follow_up_timeline_id(at, seq, &format!("{}-done", a.id)),
                item_id: item_id.to_string(),
                at,
                kind: "activity_completed".into(),
                author_id: None,
                text: format!(
                    "Activity completed as the item changed stage: {}",
                    a.description
                ),
                data: serde_json::json!({"activity_id": a.id}),
            };
            self.ports
                .store
                .transact(vec![
                    put(record_doc(tenant, &a, 2), Cond::Any),
                    timeline_write(tenant, &entry),
                ])
                .await?;
        }
        Ok(())
    }

    /// Plan the robots of a new visit: one run record per robot (immediate,
    /// delayed, or waiting for the previous robot), then queue or schedule
    /// the runs that have a due time.
    async fn plan_visit(
        &self,
        tenant: &str,
        item_id: &str,
        stage: &str,
        visit: u64,
        at: DateTime<Utc>,
        chain: &Chain,
    ) -> Result<()> {
        let Some(item) = self.load_item(tenant, item_id).await? else {
            return Ok(());
        };
        if item.visit != visit {
            // The item moved on before this visit was planned: nothing of it can run.
            return Ok(());
        }
        let mut robots: Vec<Robot> = self
            .list::<Robot>(tenant, &item.pipeline_id)
            .await?
            .into_iter()
            .filter(|r| r.stage_id == stage)
            .collect();
        if robots.is_empty() {
            return Ok(());
        }
        robots.sort_by_key(|r| r.order);
        let needs_user = robots.iter().any(needs_responsible);
        let responsible = if needs_user {
            self.user(tenant, &item.responsible_id).await?
        } else {
            None
        };
        let cal = responsible.as_ref().and_then(Engine::calendar);
        let runs = plan_runs(&item, &robots, at, chain, cal.as_ref());
        let ids: Vec<String> = runs.iter().map(|r| r.id.clone()).collect();
        // Per run: its record, and its entry in the robot's index of pending
        // runs (what deleting the robot cancels), written together; a run
        // due at once has no entry (`store::indexed`).
        let groups: Vec<Vec<Write>> = runs
            .iter()
            .map(|r| {
                let mut g = vec![put(record_doc(tenant, r, 1), Cond::Absent)];
                g.extend(pending_put(tenant, r));
                g
            })
            .collect();
        let all_new = if self.ports.store.prefers_single_writes() {
            self.plan_one_by_one(groups).await?
        } else {
            self.plan_in_chunks(groups).await?
        };
        let mut current: Vec<RunRecord> = if all_new {
            runs
        } else {
            self.visit_runs(tenant, item_id, visit)
                .await?
                .into_iter()
                .filter(|r| ids.contains(&r.id))
                .collect()
        };
        // In robot order (a store lists them by id): a visit job runs them so.
        current.sort_by_key(|r| ids.iter().position(|id| *id == r.id));
        let jobs = current
            .into_iter()
            .filter(|r| r.status == RunStatus::Pending)
            .filter_map(|r| {
                Some(Job {
                    tenant: tenant.to_string(),
                    due_at: r.due_at?,
                    run_id: r.id,
                    item_id: item_id.to_string(),
                    visit,
                    then: Vec::new(),
                })
            })
            .collect();
        // The runs due now as one job (issue #11): one message, one commit.
        let jobs = super::visit_job::visit_jobs(jobs, self.now());
        self.dispatch_jobs(jobs).await
    }

    /// Commit a visit's planned runs (one group of writes per run) in as
    /// few transactions as fit. `true` if every run was new; a group that
    /// exists already (a repeated delivery) is kept as it is.
    async fn plan_in_chunks(&self, groups: Vec<Vec<Write>>) -> Result<bool> {
        let mut chunks: Vec<Vec<Vec<Write>>> = vec![Vec::new()];
        // A run planned final (skipped at once) also writes its robot's
        // report counts in the same transaction: one more write.
        let size = |c: &Vec<Vec<Write>>| -> usize {
            c.iter()
                .map(|g| g.len() + reports::commit::aggregate_writes(g))
                .sum()
        };
        for g in groups {
            let len: usize = chunks.last().map_or(0, size);
            if len + g.len() + reports::commit::aggregate_writes(&g) > MAX_TRANSACTION_WRITES {
                chunks.push(Vec::new());
            }
            chunks.last_mut().expect("a chunk").push(g);
        }
        let mut all_new = true;
        for chunk in chunks {
            match self.ports.store.transact(chunk.concat()).await {
                Ok(()) => {}
                Err(StoreError::Conflict { .. }) => {
                    // Planned before (a repeated delivery): keep what exists.
                    all_new = false;
                    for g in chunk {
                        match self.ports.store.transact(g).await {
                            Ok(()) | Err(StoreError::Conflict { .. }) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(all_new)
    }

    /// Commit each planned run's group on its own, all at once: on a store
    /// that bills a transaction's items twice ([`DocStore::prefers_single_writes`]:
    /// DynamoDB), a run record alone is a conditional `PutItem` at half the
    /// units (issue #11). The runs of a visit need not commit together: each
    /// is written on the condition that it is absent, so a repeated delivery
    /// (or one after a crash half way) keeps what exists and adds the rest.
    async fn plan_one_by_one(&self, groups: Vec<Vec<Write>>) -> Result<bool> {
        let commits: Vec<_> = groups
            .into_iter()
            .map(|g| self.ports.store.transact(g))
            .collect();
        let done: Vec<_> = stream::iter(commits)
            .buffer_unordered(SCHEDULE_CONCURRENCY)
            .collect()
            .await;
        let mut all_new = true;
        for done in done {
            match done {
                Ok(()) => {}
                Err(StoreError::Conflict { .. }) => all_new = false,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(all_new)
    }

    /// Due now → the action queue; later → a one-time schedule. The queue
    /// send and up to [`SCHEDULE_CONCURRENCY`] schedule creations run at
    /// once: a visit's latency is one round trip per
    /// `SCHEDULE_CONCURRENCY` delayed robots, not one per robot. The first
    /// error is returned (the caller retries the whole dispatch, which is
    /// idempotent: schedule names are deterministic, runs are claimed).
    pub(crate) async fn dispatch_jobs(&self, jobs: Vec<Job>) -> Result<()> {
        let now = self.now();
        let (now_jobs, later): (Vec<Job>, Vec<Job>) =
            jobs.into_iter().partition(|j| j.due_at <= now);
        let send = async {
            if now_jobs.is_empty() {
                Ok(())
            } else {
                self.ports.jobs.send(now_jobs).await.map(drop)
            }
        };
        // The calls are made before they are streamed (no closure inside the
        // stream), so the future stays `Send` for the local runtime's tasks.
        let creations: Vec<_> = later
            .into_iter()
            .map(|j| self.ports.scheduler.schedule(j))
            .collect();
        let schedule = stream::iter(creations)
            .buffer_unordered(SCHEDULE_CONCURRENCY)
            .collect::<Vec<_>>();
        let (sent, scheduled) = future::join(send, schedule).await;
        sent?;
        for created in scheduled {
            created.map(drop)?;
        }
        Ok(())
    }
}
