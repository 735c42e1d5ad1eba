//! The stage-change step (processing transactional-outbox records: ending
//! visits, planning robots, queueing change events, handing messages to the
//! delivery port) and trigger evaluation of queued events.
//!
//! Both are idempotent: processing the same record or event twice has one
//! effect (run records are created with "must not exist" conditions; a trigger
//! evaluation's run-log record is written in the same transaction as the move
//! it causes, under a key derived from the event id).

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::Value;

use crate::automation::Robot;
use crate::context::{ItemContext, Outputs};
use crate::engine::{Engine, OUTBOX_PENDING, decode, doc, put};
use crate::error::{EngineError, Result};
use crate::model::{
    Activity, Chain, EventRecord, Item, ItemChange, Outbound, OutboundStatus, OutboxRecord,
    Pipeline, QueuedEvent, RunKind, RunRecord, RunStatus, Task, TimelineEntry,
};
use crate::ports::{
    Cond, Doc, Job, Kind, MAX_TRANSACTION_WRITES, SYSTEM_TENANT, StoreError, Write,
};
use crate::triggers::{EventFacts, Selection, TriggerSet};
use crate::workhours::WorkCalendar;

/// Run id of a robot in a visit.
pub fn run_id(item_id: &str, visit: u64, robot_id: &str) -> String {
    format!("{item_id}:{visit}:{robot_id}")
}

/// Run-log id of a trigger evaluation of one event for one item.
pub fn trigger_run_id(item_id: &str, event_id: &str) -> String {
    format!("{item_id}:evt:{event_id}")
}

/// The value of a date field of an item as an instant (dates are midnight in
/// `tz`), for delays relative to a field.
pub(crate) fn date_field(item: &Item, path: &str, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    match path {
        "created_at" => return Some(item.created_at),
        "updated_at" => return Some(item.updated_at),
        _ => {}
    }
    let s = item.fields.get(path.strip_prefix("fields.")?)?.as_str()?;
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    tz.from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

impl Engine {
    /// Pending outbox records (the local runtime polls these; on AWS the
    /// table's stream delivers them).
    pub async fn pending_outbox(&self) -> Result<Vec<Doc>> {
        Ok(self
            .ports
            .store
            .list(SYSTEM_TENANT, Kind::Outbox, OUTBOX_PENDING)
            .await?)
    }

    /// Process one outbox record, then delete it. Safe to call more than once
    /// for the same record, and after a crash half way.
    pub async fn process_outbox(&self, d: Doc) -> Result<()> {
        let record: OutboxRecord = decode(&d)?;
        match record {
            OutboxRecord::ItemChanged(c) => self.on_item_changed(&c).await?,
            OutboxRecord::RunReady(job) => self.dispatch_jobs(vec![job]).await?,
            OutboxRecord::Event(e) => self.ports.events.send(e).await?,
            OutboxRecord::Deliver {
                tenant,
                outbound_id,
            } => self.deliver(&tenant, &outbound_id).await?,
        }
        self.ports
            .store
            .transact(vec![Write::Delete {
                parent: d.parent.clone(),
                key: d.key,
                cond: Cond::Any,
            }])
            .await?;
        Ok(())
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
                self.end_visit(tenant, &c.item_id, mv.from_visit, c.at, &reason)
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
        let event = |kind: &str, data: Value| QueuedEvent {
            tenant: tenant.to_string(),
            event_id: format!("{kind}-{}-{}", c.item_id, c.version),
            event_type: kind.to_string(),
            item_id: Some(c.item_id.clone()),
            client: None,
            data,
            occurred_at: c.at,
            chain: Some(c.chain.clone()),
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

    /// End a visit: its pending runs are cancelled (recorded), their timers
    /// deleted (tidy-up: the runner's visit check is the guarantee), and its
    /// auto-completing activities completed.
    async fn end_visit(
        &self,
        tenant: &str,
        item_id: &str,
        visit: u64,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Result<()> {
        let runs = self.ports.store.list(tenant, Kind::Run, item_id).await?;
        for d in runs {
            let Ok(mut run) = decode::<RunRecord>(&d) else {
                continue;
            };
            if run.kind != RunKind::Robot || run.visit != visit || run.status != RunStatus::Pending
            {
                continue;
            }
            run.status = RunStatus::Cancelled;
            run.reason = Some(reason.to_string());
            run.finished_at = Some(at);
            run.version = d.version + 1;
            let w = put(
                doc(tenant, Kind::Run, &run.id, run.version, Some(item_id), &run),
                Cond::Version(d.version),
            );
            match self.ports.store.transact(vec![w]).await {
                // A runner took it meanwhile: it will see the visit is over.
                Ok(()) | Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            if run.due_at.is_some_and(|due| due > at) {
                self.ports.scheduler.cancel(tenant, &run.id).await?;
            }
        }
        let activities: Vec<Activity> = self.list(tenant, Kind::Activity, item_id).await?;
        for mut a in activities {
            if a.visit != visit || !a.auto_complete || a.completed {
                continue;
            }
            a.completed = true;
            a.completed_at = Some(at);
            let entry = TimelineEntry {
                id: crate::engine::timeline_id(at, &format!("{}-done", a.id)),
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
                    put(
                        doc(tenant, Kind::Activity, &a.id, 2, Some(item_id), &a),
                        Cond::Any,
                    ),
                    crate::engine::timeline_write(tenant, &entry),
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
            .list::<Robot>(tenant, Kind::Robot, &item.pipeline_id)
            .await?
            .into_iter()
            .filter(|r| r.stage_id == stage)
            .collect();
        if robots.is_empty() {
            return Ok(());
        }
        robots.sort_by_key(|r| r.order);
        let needs_user = robots
            .iter()
            .any(|r| r.respect_working_hours || r.delay.field().is_some());
        let responsible = if needs_user {
            self.user(tenant, &item.responsible_id).await?
        } else {
            None
        };
        let cal = responsible.as_ref().and_then(Engine::calendar);
        let runs = plan_runs(&item, &robots, at, chain, cal.as_ref());
        let ids: Vec<String> = runs.iter().map(|r| r.id.clone()).collect();
        let writes: Vec<Write> = runs
            .iter()
            .map(|r| {
                put(
                    doc(tenant, Kind::Run, &r.id, 1, Some(item_id), r),
                    Cond::Absent,
                )
            })
            .collect();
        let mut all_new = true;
        for chunk in writes.chunks(MAX_TRANSACTION_WRITES) {
            match self.ports.store.transact(chunk.to_vec()).await {
                Ok(()) => {}
                Err(StoreError::Conflict { .. }) => {
                    // Planned before (a repeated delivery): keep what exists.
                    all_new = false;
                    for w in chunk {
                        match self.ports.store.transact(vec![w.clone()]).await {
                            Ok(()) | Err(StoreError::Conflict { .. }) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        let current: Vec<RunRecord> = if all_new {
            runs
        } else {
            self.list::<RunRecord>(tenant, Kind::Run, item_id)
                .await?
                .into_iter()
                .filter(|r| ids.contains(&r.id))
                .collect()
        };
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
                })
            })
            .collect();
        self.dispatch_jobs(jobs).await
    }

    /// Due now → the action queue; later → a one-time schedule.
    pub(crate) async fn dispatch_jobs(&self, jobs: Vec<Job>) -> Result<()> {
        let now = self.now();
        let (now_jobs, later): (Vec<Job>, Vec<Job>) =
            jobs.into_iter().partition(|j| j.due_at <= now);
        if !now_jobs.is_empty() {
            self.ports.jobs.send(now_jobs).await?;
        }
        for j in later {
            self.ports.scheduler.schedule(j).await?;
        }
        Ok(())
    }

    async fn deliver(&self, tenant: &str, id: &str) -> Result<()> {
        let Some((mut m, v)) = self.load::<Outbound>(tenant, Kind::Outbound, id).await? else {
            return Ok(());
        };
        if m.status == OutboundStatus::Sent {
            return Ok(());
        }
        self.ports.delivery.deliver(&m).await?;
        m.status = OutboundStatus::Sent;
        m.sent_at = Some(self.now());
        match self
            .ports
            .store
            .transact(vec![put(
                doc(
                    tenant,
                    Kind::Outbound,
                    id,
                    v + 1,
                    Some(m.channel.as_str()),
                    &m,
                ),
                Cond::Version(v),
            )])
            .await
        {
            Ok(()) | Err(StoreError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    // ------------------------------------------------------------ triggers

    /// Evaluate the triggers for a queued event: resolve its item(s), apply
    /// the selection rule, move the stage, record the evaluation.
    pub async fn handle_event(&self, event: QueuedEvent) -> Result<()> {
        let tenant = event.tenant.clone();
        let mut item_ids: Vec<String> = Vec::new();
        if let Some(id) = &event.item_id {
            item_ids.push(id.clone());
        } else if let Some(c) = &event.client {
            for key in crate::engine::client_ref_keys(c) {
                for d in self
                    .ports
                    .store
                    .list(&tenant, Kind::ClientIndex, &key)
                    .await?
                {
                    if let Some(id) = d.body.as_str()
                        && !item_ids.iter().any(|x| x == id)
                    {
                        item_ids.push(id.to_string());
                    }
                }
            }
        }
        let unmatched = item_ids.is_empty();
        if unmatched {
            tracing::info!(tenant = %tenant, event_id = %event.event_id, "event matched no item");
        }
        for id in &item_ids {
            self.evaluate_for_item(&event, id).await?;
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
                doc(&tenant, Kind::Event, &event.event_id, 1, None, &record),
                Cond::Any,
            )])
            .await?;
        Ok(())
    }

    async fn evaluate_for_item(&self, event: &QueuedEvent, item_id: &str) -> Result<()> {
        let tenant = event.tenant.as_str();
        let rec_id = trigger_run_id(item_id, &event.event_id);
        let internal = matches!(
            event.event_type.as_str(),
            "field_changed" | "responsible_changed" | "task_status"
        );
        for _ in 0..=self.config.max_retries {
            if self
                .load::<RunRecord>(tenant, Kind::Run, &rec_id)
                .await?
                .is_some()
            {
                return Ok(()); // evaluated before: a repeated delivery
            }
            let Some(item) = self.load_item(tenant, item_id).await? else {
                return Ok(());
            };
            let (pipeline, _) = self
                .must::<Pipeline>(tenant, Kind::Pipeline, "pipeline", &item.pipeline_id)
                .await?;
            let triggers = self.list(tenant, Kind::Trigger, &pipeline.id).await?;
            let set = TriggerSet::new(&pipeline, triggers);
            if internal && !set.has(&event.event_type) {
                return Ok(()); // engine-raised change events are only recorded where they matter
            }
            let task = match (event.event_type.as_str(), event.data.get("task_id")) {
                ("task_status", Some(Value::String(tid))) => self
                    .load::<Task>(tenant, Kind::Task, tid)
                    .await?
                    .map(|(t, _)| t),
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
                        };
                        writes =
                            self.item_change_writes(tenant, Some(&item), &moved, &change, timeline);
                    }
                }
            }
            writes.push(put(
                doc(tenant, Kind::Run, &rec_id, 1, Some(item_id), &record),
                Cond::Absent,
            ));
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

/// Plan the runs of a visit (pure). Robots are in stage order. A robot that
/// runs "after the previous" waits (no due time) unless the previous one is
/// already final at planning time.
pub fn plan_runs(
    item: &Item,
    robots: &[Robot],
    at: DateTime<Utc>,
    chain: &Chain,
    cal: Option<&WorkCalendar>,
) -> Vec<RunRecord> {
    let tz = cal.map_or(chrono_tz::UTC, |c| c.tz);
    let mut out: Vec<RunRecord> = Vec::with_capacity(robots.len());
    for r in robots {
        let id = run_id(&item.id, item.visit, &r.id);
        if r.after_previous
            && let Some(p) = out.last_mut()
        {
            p.next_run = Some(id.clone());
        }
        let prev = out.last();
        let waits = r.after_previous && prev.is_some_and(|p| !p.status.is_final());
        let mut status = RunStatus::Pending;
        let mut reason = None;
        let mut due_at = None;
        let mut finished_at = None;
        if !waits {
            match robot_due(r, item, at, cal, tz) {
                Ok(d) => due_at = Some(d),
                Err(why) => {
                    status = RunStatus::Skipped;
                    reason = Some(why);
                    finished_at = Some(at);
                }
            }
        }
        out.push(RunRecord {
            after_run: if r.after_previous {
                prev.map(|p| p.id.clone())
            } else {
                None
            },
            id,
            kind: RunKind::Robot,
            item_id: item.id.clone(),
            robot_id: Some(r.id.clone()),
            robot_type: Some(r.action.type_name().to_string()),
            trigger_id: None,
            event_type: None,
            event_id: None,
            stage_id: r.stage_id.clone(),
            visit: item.visit,
            status,
            reason,
            due_at,
            created_at: at,
            finished_at,
            outputs: Default::default(),
            robot: Some(r.clone()),
            next_run: None,
            chain: chain.clone(),
            claim_until: None,
            attempts: 0,
            version: 1,
        });
    }
    out
}

/// When a robot is due, counted from `from` (the visit's start, or the moment
/// its previous robot finished).
pub(crate) fn robot_due(
    r: &Robot,
    item: &Item,
    from: DateTime<Utc>,
    cal: Option<&WorkCalendar>,
    tz: chrono_tz::Tz,
) -> std::result::Result<DateTime<Utc>, String> {
    let field_value = r.delay.field().and_then(|f| date_field(item, f, tz));
    let cal = if r.respect_working_hours { cal } else { None };
    r.delay.due_at(from, field_value, cal).map_err(|e| match e {
        crate::delay::DelayError::FieldEmpty { field } => {
            format!("skipped: the date field '{field}' is empty")
        }
        e => format!("skipped: {e}"),
    })
}
