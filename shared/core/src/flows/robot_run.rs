//! The robot runner: runs one planned robot run exactly once.
//!
//! 1. Claim the run (a conditional write of its record: pending → running,
//!    with a claim that expires, so a crashed runner's work is taken over)
//!    — only with [`crate::EngineConfig::claim_runs`]. Without it (the local
//!    worker, and AWS since issue #11) the commit of step 4, guarded by the
//!    run record's version, is the only write: two concurrent deliveries may
//!    both compute the action, one commits, the other's commit fails its
//!    condition and it finds the run final. A runner that dies mid-run has
//!    written nothing; the redelivered message runs the run from scratch.
//! 2. Re-read the item: a run whose visit is over is cancelled, never executed.
//! 3. Evaluate the condition against the item as it is now: false → skipped.
//! 4. Perform the action: compute its effects as writes (new records get
//!    fresh ids), then commit them in ONE transaction together with the final
//!    run record (conditional on the claim) and a check that the item is
//!    still at the version that was read. An attempt that does not commit
//!    leaves nothing; a repeated message or a retry after a crash finds the
//!    run final. Each run therefore has one effect.
//! 5. If a robot waits for this one ("after the previous"), its due time is
//!    computed now and a `RunReady` outbox record is written in the same
//!    transaction.

use chrono::{DateTime, Utc};
use std::sync::Arc;

use super::batch_reads::BatchReads;
use crate::context::Outputs;
use crate::engine::Engine;
use crate::engine::ROBOT_DELETED;
use crate::error::Result;
use crate::model::{Item, OutboxRecord, Pipeline, RunRecord, RunStatus, User};
use crate::planning::{NO_TASK, robot_due};
use crate::ports::{
    Cond, Doc, DocKey, Job, Kind, MAX_TRANSACTION_WRITES, Ports, StoreError, Write,
};
use crate::reports::commit::aggregate_writes;
use crate::reports::tally::run_deltas;
use crate::robots::{ActionError, Effect, Robot, RunContext, wait_for};
use crate::store::{
    TimelineSlots, counter_guards_visit, decode, pending_delete, put, record_doc,
    timeline_counter_key,
};

/// What happened to a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// The run reached this final status now.
    Finished(RunStatus),
    /// The run was already final (a repeated message): nothing done.
    AlreadyFinished,
    /// Another runner holds a claim on the run until `until`: deliver the job
    /// again then (if that runner dies, its claim expires and this delivery
    /// takes over; if it finishes, the delivery finds the run final).
    Claimed {
        /// When the claim expires (at the latest).
        until: DateTime<Utc>,
    },
    /// The run waits for its previous robot (it has no due time yet): nothing
    /// to do now. The previous robot's final commit readies it (a `RunReady`
    /// outbox record in the same transaction), which dispatches a new job.
    Waiting,
    /// The job arrived before its due time and was scheduled again (for
    /// exactly its due time).
    Rescheduled,
    /// No such run.
    Unknown,
}

/// An item as read (with its version), and its timeline counter.
type Loaded = (Option<Item>, Option<Doc>);

fn item_of(d: Option<&Doc>) -> Result<Option<Item>> {
    d.map(|d| -> Result<Item> {
        let mut item: Item = decode(d)?;
        item.version = d.version;
        Ok(item)
    })
    .transpose()
}

/// Does a condition read an output of an earlier robot?
fn condition_uses_outputs(c: &crate::condition::Condition) -> bool {
    use crate::condition::Condition;
    match c {
        Condition::All { all: v } | Condition::Any { any: v } => {
            v.iter().any(condition_uses_outputs)
        }
        Condition::Leaf { field, .. } => field.starts_with("robot."),
    }
}

/// Does the robot read outputs of earlier robots (so they must be loaded)?
fn uses_outputs(robot: &Robot) -> bool {
    robot.condition.as_ref().is_some_and(condition_uses_outputs)
        || robot
            .action
            .templates()
            .iter()
            .any(|(_, t)| t.placeholders().any(|p| p.starts_with("robot.")))
        || matches!(&robot.action, crate::robots::Action::ModifyItem(m)
            if m.fields.values().any(|v| v.as_str().is_some_and(|s| s.contains("robot."))))
        || matches!(&robot.action, crate::robots::Action::App(a) if a.uses_outputs())
}

impl Engine {
    /// Run one job. Errors are transient (store/port unavailable): the caller
    /// retries the job later; the claim expires so a retry can take over.
    /// A visit job (several runs, [`Job::then`]) runs them all
    /// ([`Engine::run_visit_job`]) and answers one outcome for the job
    /// ([`crate::job_outcome`]); callers that want each run's use
    /// `run_visit_job`.
    pub async fn run_job(&self, job: Job) -> Result<RunOutcome> {
        // The timer of an outbound message's next attempt (issue #15): a
        // delivery, not a run.
        if let Some(id) = crate::outbound::job::outbound_of(&job) {
            self.deliver_outbound(&job.tenant, id).await?;
            return Ok(RunOutcome::Waiting);
        }
        // Delivered before the job's own due time (on AWS a schedule fires up
        // to 2 minutes early by design, `crm_aws::scheduler::fire_time`): put
        // back for exactly the rest without reading anything (issue #11: −3
        // reads per delayed run). The run's due time can only be earlier
        // than the job's if something made it so (a "run now", a date field
        // moved earlier), and that dispatched a job of its own.
        if self.put_back_if_early(&job).await? {
            return Ok(RunOutcome::Rescheduled);
        }
        // A visit job (issue #11): its runs in order, committed together.
        if !job.then.is_empty() {
            let outcomes = Box::pin(self.run_visit_job(job)).await?;
            return Ok(super::visit_job::job_outcome(&outcomes));
        }
        // Without claims, another writer may change the run record between
        // our read and our commit (a duplicate delivery committing first, a
        // "run now", a robot deleted): the commit loses, and the job starts
        // over from a fresh read, which finds the run final or runs it again.
        for _ in 0..=self.config.max_retries {
            if let Some(outcome) = self.run_job_once(&job).await? {
                return Ok(outcome);
            }
        }
        Err(crate::error::EngineError::Conflict(format!(
            "run '{}' kept changing while it was being run",
            job.run_id
        )))
    }

    /// Put a job delivered before its own due time back, for exactly the
    /// rest (whole, with its [`Job::then`]); `true` if it was early.
    pub(super) async fn put_back_if_early(&self, job: &Job) -> Result<bool> {
        if job.due_at <= self.now() {
            return Ok(false);
        }
        self.ports.scheduler.schedule(job.clone()).await?;
        Ok(true)
    }

    /// One attempt at [`Engine::run_job`]; `None`: the run record changed
    /// under us (no claim was taken), start over.
    async fn run_job_once(&self, job: &Job) -> Result<Option<RunOutcome>> {
        let tenant = job.tenant.as_str();
        // One batch read for the run, its item and the item's timeline
        // counter (4 requests per run in all: this read, the claim, the
        // pipeline + responsible + robot read, the commit).
        let got = self
            .ports
            .store
            .get_many(&[
                DocKey::new(tenant, Kind::Run, &job.run_id),
                DocKey::new(tenant, Kind::Item, &job.item_id),
                timeline_counter_key(tenant, &job.item_id),
            ])
            .await?;
        let (run_doc, item_doc) = (got[0].clone(), got[1].clone());
        let Some(run_doc) = run_doc else {
            tracing::warn!(run_id = %job.run_id, "job for an unknown run");
            return Ok(Some(RunOutcome::Unknown));
        };
        let v = run_doc.version;
        let mut run: RunRecord = decode(&run_doc)?;
        run.version = v;
        let mut preloaded = Some((item_of(item_doc.as_ref())?, got[2].clone()));
        if run.status.is_final() {
            return Ok(Some(RunOutcome::AlreadyFinished));
        }
        // Performed, waiting for an outside outcome: a job for it is the
        // timer of its webhook call's next attempt.
        if run.status == RunStatus::Waiting {
            self.app_wait_timer(tenant, &run).await?;
            self.webhook_attempt(tenant, &run.id).await?;
            return Ok(Some(RunOutcome::Waiting));
        }
        let now = self.now();
        let Some(due) = run.due_at else {
            return Ok(Some(RunOutcome::Waiting));
        };
        if run.status == RunStatus::Running
            && let Some(until) = run.claim_until.filter(|c| *c > now)
        {
            return Ok(Some(RunOutcome::Claimed { until }));
        }
        // Never before the due time, not even by a second.
        if due > now {
            self.ports
                .scheduler
                .schedule(Job {
                    due_at: due,
                    ..job.clone()
                })
                .await?;
            return Ok(Some(RunOutcome::Rescheduled));
        }
        // 1. claim
        run.attempts += 1;
        if self.config.claim_runs {
            run.status = RunStatus::Running;
            run.claim_until = Some(now + self.config.claim_ttl);
            run.version = v + 1;
            match self
                .ports
                .store
                .transact(vec![put(
                    record_doc(tenant, &run, run.version),
                    Cond::Version(v),
                )])
                .await
            {
                Ok(()) => {}
                // Another runner claimed it between our read and our write.
                Err(StoreError::Conflict { .. }) => {
                    return Ok(Some(RunOutcome::Claimed {
                        until: now + self.config.claim_ttl,
                    }));
                }
                Err(e) => return Err(e.into()),
            }
        }
        // 2–5, retried while the item changes under us
        for _ in 0..=self.config.max_retries {
            let (status, writes) = match self.decide(tenant, &run, preloaded.take()).await {
                Ok(decided) => decided,
                Err(crate::error::EngineError::Store(StoreError::Rejected(why))) => {
                    return self.fail_rejected(tenant, &run, &why).await;
                }
                Err(e) => return Err(e),
            };
            match self.ports.store.transact(writes).await {
                Ok(()) => return Ok(Some(RunOutcome::Finished(status))),
                Err(StoreError::Conflict { .. }) => {
                    match self.load::<RunRecord>(tenant, &run.id).await? {
                        // The item changed under us: decide again.
                        Some((_, cv)) if cv == run.version => {}
                        None => return Ok(Some(RunOutcome::Unknown)),
                        // Another delivery committed it first: its effect
                        // stands, ours was never written.
                        Some((cur, _)) if cur.status.is_final() => {
                            return Ok(Some(RunOutcome::AlreadyFinished));
                        }
                        Some((cur, _)) if cur.status == RunStatus::Waiting => {
                            return Ok(Some(RunOutcome::Waiting));
                        }
                        // Someone else took over.
                        Some((cur, _)) if self.config.claim_runs => {
                            let until = cur.claim_until.unwrap_or(now + self.config.claim_ttl);
                            return Ok(Some(RunOutcome::Claimed { until }));
                        }
                        // Changed by a "run now" or the like: start over.
                        Some(_) => return Ok(None),
                    }
                }
                // The store refuses these writes whatever we do (an item over
                // its size limit, …): retrying cannot help, so the run fails
                // now, with the reason in the run log.
                Err(StoreError::Rejected(why)) => {
                    return self.fail_rejected(tenant, &run, &why).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(crate::error::EngineError::Conflict(format!(
            "item '{}' kept changing while running '{}'",
            run.item_id, run.id
        )))
    }

    /// Make a claimed run `failed` because the store rejected its writes: a
    /// small write of its own (the run record, guarded by the claim's
    /// version; its pending-run index removed), so that the run is final at
    /// once and the run log says why. A robot waiting for this one is
    /// readied as after any other failure.
    async fn fail_rejected(
        &self,
        tenant: &str,
        claimed: &RunRecord,
        why: &str,
    ) -> Result<Option<RunOutcome>> {
        let now = self.now();
        tracing::warn!(run_id = %claimed.id, %why, "the store rejected the run's writes; the run fails");
        let mut run = claimed.clone();
        run.status = RunStatus::Failed;
        run.reason = Some(format!(
            "failed: the store rejected the robot's writes (they exceed a storage limit): {why}"
        ));
        run.finished_at = Some(now);
        run.claim_until = None;
        run.version = claimed.version + 1;
        let mut writes = Vec::new();
        if let Some(next) = &run.next_run
            && let Some(item) = self.load_item(tenant, &run.item_id).await?
            && item.visit == run.visit
        {
            writes.extend(self.ready_follower(tenant, next, &item, now).await?);
        }
        writes.push(put(
            record_doc(tenant, &run, run.version),
            Cond::Version(claimed.version),
        ));
        writes.extend(pending_delete(tenant, &run));
        match self.ports.store.transact(writes).await {
            Ok(()) => Ok(Some(RunOutcome::Finished(RunStatus::Failed))),
            Err(StoreError::Conflict { .. }) if self.config.claim_runs => {
                Ok(Some(RunOutcome::Claimed {
                    until: now + self.config.claim_ttl,
                }))
            }
            // Without a claim: the run changed meanwhile; start over.
            Err(StoreError::Conflict { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Run several due jobs, committing the effects of runs of different
    /// items together: one transaction for as many runs as fit, instead of one
    /// per run. Used by a single worker (`claim_runs` off); with claims on,
    /// or for anything unusual (a repeated item, a run not yet due, a commit
    /// that conflicts), the jobs go through [`Engine::run_job`] one by one, in
    /// order. Outcomes are returned in the order of `jobs`.
    pub async fn run_jobs(&self, jobs: Vec<Job>) -> Result<Vec<RunOutcome>> {
        let messages = jobs
            .iter()
            .any(|j| crate::outbound::job::outbound_of(j).is_some());
        if self.config.claim_runs || jobs.len() < 2 || messages {
            let mut out = Vec::with_capacity(jobs.len());
            for j in jobs {
                out.push(self.run_job(j).await?);
            }
            return Ok(out);
        }
        let batch = Engine {
            ports: Ports {
                store: Arc::new(BatchReads::new(self.ports.store.clone())),
                ..self.ports.clone()
            },
            config: self.config.clone(),
            audiences: self.audiences.clone(),
            tracking: self.tracking.clone(),
            inbound: self.inbound.clone(),
        };
        batch.run_batch(jobs).await
    }

    async fn run_batch(&self, jobs: Vec<Job>) -> Result<Vec<RunOutcome>> {
        let keys: Vec<DocKey> = jobs
            .iter()
            .flat_map(|j| {
                [
                    DocKey::new(j.tenant.as_str(), Kind::Run, j.run_id.as_str()),
                    DocKey::new(j.tenant.as_str(), Kind::Item, j.item_id.as_str()),
                    timeline_counter_key(&j.tenant, &j.item_id),
                ]
            })
            .collect();
        let got = self.ports.store.get_many(&keys).await?;
        let now = self.now();
        let mut outcomes: Vec<Option<RunOutcome>> = vec![None; jobs.len()];
        let mut single: Vec<usize> = Vec::new();
        let mut items_seen = std::collections::HashSet::new();
        // (job index, status, writes)
        let mut decided: Vec<(usize, RunStatus, Vec<Write>)> = Vec::new();
        for (i, job) in jobs.iter().enumerate() {
            // A visit job (issue #11) runs all its runs and commits them
            // together, on its own.
            if !job.then.is_empty() {
                single.push(i);
                continue;
            }
            let Some(run_doc) = &got[3 * i] else {
                outcomes[i] = Some(RunOutcome::Unknown);
                continue;
            };
            let mut run: RunRecord = decode(run_doc)?;
            run.version = run_doc.version;
            if run.status.is_final() {
                outcomes[i] = Some(RunOutcome::AlreadyFinished);
                continue;
            }
            let ready = run.status == RunStatus::Pending && run.due_at.is_some_and(|d| d <= now);
            // A second job of one item waits for the first one's commit.
            if !ready || !items_seen.insert((job.tenant.clone(), job.item_id.clone())) {
                single.push(i);
                continue;
            }
            let loaded = (item_of(got[3 * i + 1].as_ref())?, got[3 * i + 2].clone());
            run.attempts += 1;
            let (status, writes) = self.decide(&job.tenant, &run, Some(loaded)).await?;
            decided.push((i, status, writes));
        }
        // Pack the decided runs into transactions of distinct keys.
        let mut group: Vec<(usize, RunStatus)> = Vec::new();
        let mut writes: Vec<Write> = Vec::new();
        let mut keys_in = std::collections::HashSet::new();
        // The report documents the group's runs count on (one write each,
        // added to the group's transaction by `TallyStore`).
        let mut counted_in = std::collections::HashSet::new();
        let mut failed_groups: Vec<usize> = Vec::new();
        // A store that takes group commits (SQLite) commits the whole batch
        // at once; DynamoDB one transaction's worth at a time.
        let limit = self.ports.store.group_limit().max(MAX_TRANSACTION_WRITES);
        let mut iter = decided.into_iter().peekable();
        while let Some((i, status, w)) = iter.next() {
            let counted: Vec<DocKey> = run_deltas(&w).0.into_keys().collect();
            let new_counts = counted.iter().filter(|k| !counted_in.contains(*k)).count();
            let fits = writes.len() + w.len() + counted_in.len() + new_counts <= limit
                && w.iter().all(|x| !keys_in.contains(x.key()));
            if !fits && !group.is_empty() {
                self.commit_group(&mut group, &mut writes, &mut outcomes, &mut failed_groups)
                    .await?;
                keys_in.clear();
                counted_in.clear();
            }
            counted_in.extend(counted);
            keys_in.extend(w.iter().map(|x| x.key().clone()));
            writes.extend(w);
            group.push((i, status));
            if iter.peek().is_none() {
                self.commit_group(&mut group, &mut writes, &mut outcomes, &mut failed_groups)
                    .await?;
            }
        }
        single.extend(failed_groups);
        single.sort_unstable();
        for i in single {
            outcomes[i] = Some(self.run_job(jobs[i].clone()).await?);
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.expect("every job has an outcome"))
            .collect())
    }

    async fn commit_group(
        &self,
        group: &mut Vec<(usize, RunStatus)>,
        writes: &mut Vec<Write>,
        outcomes: &mut [Option<RunOutcome>],
        failed: &mut Vec<usize>,
    ) -> Result<()> {
        match self
            .ports
            .store
            .transact_group(std::mem::take(writes))
            .await
        {
            Ok(()) => {
                for (i, status) in group.drain(..) {
                    outcomes[i] = Some(RunOutcome::Finished(status));
                }
            }
            // Someone changed an item or run meanwhile: retry these one by one.
            Err(StoreError::Conflict { .. } | StoreError::Invalid(_) | StoreError::Rejected(_)) => {
                failed.extend(group.drain(..).map(|(i, _)| i));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    /// Decide the run's outcome and the writes that commit it.
    /// `item`: the item as read before the claim (first attempt), else it is
    /// read again. A stale read is harmless: the commit checks its version.
    ///
    /// The records the action makes (notification, task, message, timeline
    /// entry…) get fresh ids from the [`IdGen`]: they are written only by the
    /// one transaction that also makes the run final, guarded by the run's
    /// version, so an attempt that does not commit leaves nothing behind and
    /// a later attempt of a committed run finds it final and does nothing.
    /// Fresh ids are time-ordered in production, so a store keeps the
    /// records of runs that ran together side by side.
    pub(super) async fn decide(
        &self,
        tenant: &str,
        claimed: &RunRecord,
        item: Option<Loaded>,
    ) -> Result<(RunStatus, Vec<Write>)> {
        let now = self.now();
        let mut run = claimed.clone();
        let mut writes = Vec::new();
        let (item, counter) = match item {
            Some(loaded) => loaded,
            None => {
                let got = self
                    .ports
                    .store
                    .get_many(&[
                        DocKey::new(tenant, Kind::Item, &run.item_id),
                        timeline_counter_key(tenant, &run.item_id),
                    ])
                    .await?;
                (item_of(got[0].as_ref())?, got[1].clone())
            }
        };
        let effect = match &item {
            None => Effect {
                status: RunStatus::Cancelled,
                reason: Some("cancelled: the item was deleted before the robot ran".into()),
                ..Effect::done(Vec::new())
            },
            Some(item) if item.visit != run.visit => Effect {
                status: RunStatus::Cancelled,
                reason: Some(format!(
                    "cancelled: the item left stage '{}' (it is in '{}' now) before the robot ran",
                    run.stage_id, item.stage_id
                )),
                ..Effect::done(Vec::new())
            },
            Some(item) => {
                self.perform(tenant, &run, item, counter.as_ref(), now)
                    .await?
            }
        };
        run.status = effect.status;
        run.reason = effect.reason;
        run.outputs = effect.outputs;
        // A waiting run is not finished: its outcome comes later.
        let waiting = run.status == RunStatus::Waiting;
        run.finished_at = (!waiting).then_some(now);
        run.claim_until = None;
        run.version = claimed.version + 1;
        // The visit is guarded by the item's version, or (issue #11) by the
        // timeline counter when the commit writes it conditionally and it
        // carries this visit (`store::counter_guards_visit`): no check then.
        let counter_key = timeline_counter_key(tenant, &run.item_id);
        let guarded_by_counter = item
            .as_ref()
            .is_some_and(|i| counter_guards_visit(i, counter.as_ref()))
            && effect.writes.iter().any(|w| {
                matches!(w, Write::Put { doc, cond: Cond::Version(_) } if doc.key == counter_key)
            });
        writes.extend(effect.writes);
        if let Some(item) = &item
            && !effect.writes_item
            && !guarded_by_counter
        {
            writes.push(Write::Check {
                key: DocKey::new(tenant, Kind::Item, &item.id),
                cond: Cond::Version(item.version),
            });
        }
        // The next robot waits for this one unless the visit is over (a
        // deleted robot's run is cancelled, but its visit goes on).
        if !waiting
            && (run.status != RunStatus::Cancelled || run.reason.as_deref() == Some(ROBOT_DELETED))
            && let (Some(next), Some(item)) = (&run.next_run, &item)
        {
            // A follower may wait for the task this run created.
            let task = (run.status == RunStatus::Done)
                .then(|| {
                    run.outputs
                        .get("task_id")
                        .and_then(serde_json::Value::as_str)
                })
                .flatten()
                .map(str::to_string);
            writes.extend(
                self.ready_follower_of(tenant, next, item, now, task)
                    .await?,
            );
        }
        writes.push(put(
            record_doc(tenant, &run, run.version),
            Cond::Version(claimed.version),
        ));
        if !waiting {
            writes.extend(pending_delete(tenant, &run));
        }
        // The report counts of the runs made final ride along (`TallyStore`).
        let needed = writes.len() + aggregate_writes(&writes);
        if needed > MAX_TRANSACTION_WRITES {
            return Err(StoreError::Rejected(format!(
                "run {} needs {needed} writes, more than one transaction holds ({MAX_TRANSACTION_WRITES})",
                run.id,
            ))
            .into());
        }
        Ok((run.status, writes))
    }

    /// The robot waiting for a finished one becomes due (counted from now).
    pub(crate) async fn ready_follower(
        &self,
        tenant: &str,
        next: &str,
        item: &Item,
        now: DateTime<Utc>,
    ) -> Result<Vec<Write>> {
        self.ready_follower_of(tenant, next, item, now, None).await
    }

    /// As [`Engine::ready_follower`], the finished run having created
    /// `task`: a follower with `wait_for: task_completed` starts waiting
    /// for it (until its timeout, if it has one) instead of becoming due;
    /// without a task it is skipped ([`NO_TASK`]).
    pub(crate) async fn ready_follower_of(
        &self,
        tenant: &str,
        next: &str,
        item: &Item,
        now: DateTime<Utc>,
        mut task: Option<String>,
    ) -> Result<Vec<Write>> {
        let mut writes = Vec::new();
        let mut next = Some(next.to_string());
        // A follower that cannot get a due time (its date field is empty) is
        // skipped at once, and the one waiting for it is readied in turn.
        while let Some(id) = next.take() {
            let Some((mut f, fv)) = self.load::<RunRecord>(tenant, &id).await? else {
                break;
            };
            if f.status != RunStatus::Pending || f.due_at.is_some() {
                break;
            }
            let Some(robot) = f.robot.clone() else {
                break;
            };
            let (cal, tz) = self.robot_calendar(tenant, &robot, item).await?;
            let waits_for_task = robot.after_previous && !robot.wait_for.is_finish();
            let due = match (waits_for_task, task.take()) {
                (false, _) => robot_due(&robot, item, now, cal.as_ref(), tz),
                (true, None) => Err(NO_TASK.to_string()),
                (true, Some(t)) => {
                    f.awaiting_task = Some(t);
                    if let Some(timeout) = robot.wait_timeout {
                        let due = timeout.add_in(now, None, tz);
                        f.due_at = Some(due);
                        writes.push(self.ready_write(tenant, &f, due, false));
                    }
                    f.version = fv + 1;
                    writes.push(put(record_doc(tenant, &f, f.version), Cond::Version(fv)));
                    break;
                }
            };
            match due {
                Ok(due) => {
                    f.due_at = Some(due);
                    writes.push(self.ready_write(tenant, &f, due, false));
                }
                Err(why) => {
                    f.status = RunStatus::Skipped;
                    f.reason = Some(why);
                    f.finished_at = Some(now);
                    next = f.next_run.clone();
                    writes.extend(pending_delete(tenant, &f));
                }
            }
            f.version = fv + 1;
            writes.push(put(record_doc(tenant, &f, f.version), Cond::Version(fv)));
            if writes.len() > MAX_TRANSACTION_WRITES / 2 {
                break;
            }
        }
        Ok(writes)
    }

    /// The outbox record that queues or schedules a run readied at `due`
    /// (`ready|<run id>`; a run readied a second time — its awaited task
    /// completed after its timeout was scheduled — under `…|task`).
    pub(crate) fn ready_write(
        &self,
        tenant: &str,
        f: &RunRecord,
        due: DateTime<Utc>,
        again: bool,
    ) -> Write {
        let again = if again { "|task" } else { "" };
        self.outbox_write(
            tenant,
            &format!("ready|{}{again}", f.id),
            &OutboxRecord::RunReady(Job {
                tenant: tenant.to_string(),
                run_id: f.id.clone(),
                item_id: f.item_id.clone(),
                visit: f.visit,
                due_at: due,
                then: Vec::new(),
            }),
        )
    }

    /// Perform a run on a current visit; a run still awaiting its previous
    /// robot's task has reached its `wait_timeout`: it runs anyway or is
    /// skipped (`on_timeout`), and the run log says so.
    async fn perform(
        &self,
        tenant: &str,
        run: &RunRecord,
        item: &Item,
        counter: Option<&Doc>,
        now: DateTime<Utc>,
    ) -> Result<Effect> {
        let (Some(task), Some(robot)) = (&run.awaiting_task, &run.robot) else {
            return self.perform_action(tenant, run, item, counter, now).await;
        };
        let waited = robot
            .wait_timeout
            .map(|t| format!(" within {}", wait_for::describe(&t)))
            .unwrap_or_default();
        let late = format!("task '{task}' was not completed{waited}");
        if robot.on_timeout == wait_for::OnTimeout::Skip {
            return Ok(Effect::ended(
                RunStatus::Skipped,
                format!("skipped: {late}"),
            ));
        }
        let mut effect = self.perform_action(tenant, run, item, counter, now).await?;
        effect.reason = Some(match effect.reason.take() {
            Some(r) => format!("ran on timeout ({late}); {r}"),
            None => format!("ran on timeout: {late}"),
        });
        Ok(effect)
    }

    /// Check the condition and perform the action of a run on a current visit.
    async fn perform_action(
        &self,
        tenant: &str,
        run: &RunRecord,
        item: &Item,
        counter: Option<&Doc>,
        now: DateTime<Utc>,
    ) -> Result<Effect> {
        let Some(robot) = run.robot.as_ref() else {
            return Ok(Effect {
                status: RunStatus::Failed,
                reason: Some("failed: the run has no robot".into()),
                ..Effect::done(Vec::new())
            });
        };
        let got = self
            .ports
            .store
            .get_many_settled(&[
                DocKey::new(tenant, Kind::Pipeline, &item.pipeline_id),
                DocKey::new(tenant, Kind::User, &item.responsible_id),
                DocKey::new(tenant, Kind::Robot, &robot.id),
            ])
            .await?;
        // Deleting a robot cancels its pending runs; one planned while it
        // was being deleted is cancelled here.
        if got[2].is_none() {
            return Ok(Effect::ended(RunStatus::Cancelled, ROBOT_DELETED));
        }
        let responsible: Option<User> = got[1].as_ref().map(decode).transpose()?;
        let Some(pipeline) = got[0].as_ref().map(decode::<Pipeline>).transpose()? else {
            return Ok(Effect {
                status: RunStatus::Failed,
                reason: Some(format!("failed: pipeline '{}' is gone", item.pipeline_id)),
                ..Effect::done(Vec::new())
            });
        };
        let outputs = if uses_outputs(robot) {
            self.visit_outputs(tenant, &item.id, run.visit).await?
        } else {
            Outputs::new()
        };
        let cx = RunContext {
            engine: self,
            tenant,
            run,
            robot,
            item,
            pipeline: &pipeline,
            responsible: responsible.as_ref(),
            outputs: &outputs,
            now,
            too_long: Default::default(),
            timeline_entries: Default::default(),
            timeline: TimelineSlots::new(&item.id, item.version, counter)?,
        };
        if let Some(c) = &robot.condition
            && !c.evaluate(&cx.item_ctx())
        {
            return Ok(Effect::ended(
                RunStatus::Skipped,
                format!(
                    "skipped: condition not met: {}",
                    c.why_false(&cx.item_ctx())
                ),
            ));
        }
        match robot.action.perform(&cx).await {
            Ok(_) if cx.too_long().is_some() => Ok(Effect::ended(
                RunStatus::Failed,
                cx.too_long().unwrap_or_default(),
            )),
            // Entries the run made take the item's timeline counter with them.
            // (A run that also starts a new visit already writes the counter
            // to the visit's epoch, in the same transaction.)
            Ok(mut e) if cx.wrote_timeline() => {
                let key = timeline_counter_key(tenant, &run.item_id);
                if !e.writes.iter().any(|w| *w.key() == key) {
                    e.writes.extend(cx.timeline.counter_write(tenant));
                }
                Ok(e)
            }
            Ok(e) => Ok(e),
            Err(ActionError::Failed(msg)) => {
                Ok(Effect::ended(RunStatus::Failed, format!("failed: {msg}")))
            }
            Err(ActionError::Engine(e)) => Err(e),
        }
    }

    async fn visit_outputs(&self, tenant: &str, item_id: &str, visit: u64) -> Result<Outputs> {
        let runs = self.visit_runs(tenant, item_id, visit).await?;
        Ok(runs
            .into_iter()
            .filter(|r| r.status == RunStatus::Done)
            .filter_map(|r| Some((r.robot_id?, r.outputs)))
            .collect())
    }
}
