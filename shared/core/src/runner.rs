//! The robot runner: runs one planned robot run exactly once.
//!
//! 1. Claim the run (a conditional write of its record: pending → running,
//!    with a claim that expires, so a crashed runner's work is taken over).
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

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::automation::{Action, Robot, RotateMode};
use crate::context::{ItemContext, Outputs};
use crate::dispatch::robot_due;
use crate::engine::{Engine, check_fields, decode, doc, put, timeline_id, timeline_write};
use crate::error::Result;
use crate::model::{
    Activity, Channel, Chat, Client, FeedPost, Item, ItemChange, Message, Notification, Outbound,
    OutboundStatus, OutboxRecord, Pipeline, RunRecord, RunStatus, StageMove, Task, TaskStatus,
    TimelineEntry, User,
};
use crate::ports::{
    Cond, Doc, DocKey, DocStore, IdGen, Job, Kind, MAX_TRANSACTION_WRITES, Ports, StoreError, Write,
};
use crate::template::{Template, format_value};
use crate::validate::{RESPONSIBLE, SUPERVISOR};

/// The store as one batch of runs ([`Engine::run_jobs`]) sees it: the
/// settings that every run reads again — pipelines, users, departments — are
/// read from the store once per batch. Any other read, and every write, goes
/// to the store; a write of a cached document drops it from the cache. (A
/// setting changed while a batch runs is seen by the next batch, as if the
/// batch had started a moment earlier.)
struct BatchReads {
    store: Arc<dyn DocStore>,
    cache: Mutex<HashMap<DocKey, Option<Doc>>>,
}

impl BatchReads {
    fn cached(kind: Kind) -> bool {
        matches!(kind, Kind::Pipeline | Kind::User | Kind::Department)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<DocKey, Option<Doc>>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl DocStore for BatchReads {
    async fn get(&self, key: &DocKey) -> std::result::Result<Option<Doc>, StoreError> {
        Ok(self
            .get_many(std::slice::from_ref(key))
            .await?
            .pop()
            .flatten())
    }

    async fn get_many(&self, keys: &[DocKey]) -> std::result::Result<Vec<Option<Doc>>, StoreError> {
        let mut out: Vec<Option<Option<Doc>>> = {
            let cache = self.cache();
            keys.iter()
                .map(|k| {
                    Self::cached(k.kind)
                        .then(|| cache.get(k).cloned())
                        .flatten()
                })
                .collect()
        };
        let missing: Vec<DocKey> = keys
            .iter()
            .zip(&out)
            .filter(|(_, o)| o.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        if !missing.is_empty() {
            let mut got = self.store.get_many(&missing).await?.into_iter();
            let mut cache = self.cache();
            for (k, o) in keys.iter().zip(out.iter_mut()) {
                if o.is_none() {
                    let d = got.next().flatten();
                    if Self::cached(k.kind) {
                        cache.insert(k.clone(), d.clone());
                    }
                    *o = Some(d);
                }
            }
        }
        Ok(out.into_iter().map(Option::flatten).collect())
    }

    async fn list(
        &self,
        tenant: &str,
        kind: Kind,
        parent: &str,
    ) -> std::result::Result<Vec<Doc>, StoreError> {
        self.store.list(tenant, kind, parent).await
    }

    async fn transact(&self, writes: Vec<Write>) -> std::result::Result<(), StoreError> {
        {
            let mut cache = self.cache();
            for w in &writes {
                cache.remove(w.key());
            }
        }
        self.store.transact(writes).await
    }
}

/// What happened to a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// The run reached this final status now.
    Finished(RunStatus),
    /// The run was already final (a repeated message): nothing done.
    AlreadyFinished,
    /// Another runner holds a live claim, or the run waits for its previous
    /// robot: try again later.
    Busy,
    /// The job arrived before its due time and was scheduled again.
    Rescheduled,
    /// No such run.
    Unknown,
}

/// Result of performing an action.
struct Effect {
    writes: Vec<Write>,
    outputs: BTreeMap<String, Value>,
    status: RunStatus,
    reason: Option<String>,
    /// The item write is part of `writes` (no separate version check needed).
    writes_item: bool,
}

impl Effect {
    fn done(writes: Vec<Write>) -> Self {
        Effect {
            writes,
            outputs: BTreeMap::new(),
            status: RunStatus::Done,
            reason: None,
            writes_item: false,
        }
    }
    fn output(mut self, key: &str, v: impl Into<String>) -> Self {
        self.outputs
            .insert(key.to_string(), Value::String(v.into()));
        self
    }
    fn note(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

/// An action that cannot be performed (recorded as `failed`).
struct Fail(String);

type ActionResult = std::result::Result<Effect, Fail>;

/// Everything an action needs to see.
struct Ctx<'a> {
    tenant: &'a str,
    run: &'a RunRecord,
    robot: &'a Robot,
    item: &'a Item,
    pipeline: &'a Pipeline,
    responsible: Option<&'a User>,
    outputs: &'a Outputs,
    now: DateTime<Utc>,
    ids: &'a dyn IdGen,
}

impl Ctx<'_> {
    fn item_ctx(&self) -> ItemContext<'_> {
        ItemContext {
            item: self.item,
            pipeline: self.pipeline,
            responsible: self.responsible,
            outputs: self.outputs,
            now: self.now,
        }
    }
    fn render(&self, t: &Template) -> String {
        t.render(&self.item_ctx())
    }
    /// An outbound message of this run with no sender, subject or provider.
    fn message(&self, channel: Channel, to: String, body: String) -> Outbound {
        Outbound {
            id: self.id(channel.as_str()),
            tenant: self.tenant.to_string(),
            channel,
            to,
            from: None,
            subject: None,
            body,
            provider: None,
            item_id: Some(self.item.id.clone()),
            to_client: false,
            status: OutboundStatus::Queued,
            at: self.now,
            sent_at: None,
        }
    }

    /// A new id for a record this run makes (see [`Engine::decide`] on why
    /// fresh ids are safe for a run that may be attempted more than once).
    fn id(&self, prefix: &str) -> String {
        self.ids.next_id(prefix)
    }
    fn timeline(&self, kind: &str, author: Option<String>, text: String, data: Value) -> Write {
        timeline_write(
            self.tenant,
            &TimelineEntry {
                id: timeline_id(self.now, &self.id("tl")),
                item_id: self.item.id.clone(),
                at: self.now,
                kind: kind.to_string(),
                author_id: author,
                text,
                data,
            },
        )
    }
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
        || matches!(&robot.action, Action::ModifyItem(m)
            if m.fields.values().any(|v| v.as_str().is_some_and(|s| s.contains("robot."))))
}

impl Engine {
    /// Run one job. Errors are transient (store/port unavailable): the caller
    /// retries the job later; the claim expires so a retry can take over.
    pub async fn run_job(&self, job: Job) -> Result<RunOutcome> {
        let tenant = job.tenant.as_str();
        // One batch read for the run and its item (4 requests per run in all:
        // this read, the claim, the pipeline + responsible read, the commit).
        let got = self
            .ports
            .store
            .get_many(&[
                DocKey::new(tenant, Kind::Run, &job.run_id),
                DocKey::new(tenant, Kind::Item, &job.item_id),
            ])
            .await?;
        let (run_doc, item_doc) = (got[0].clone(), got[1].clone());
        let Some(run_doc) = run_doc else {
            tracing::warn!(run_id = %job.run_id, "job for an unknown run");
            return Ok(RunOutcome::Unknown);
        };
        let v = run_doc.version;
        let mut run: RunRecord = decode(&run_doc)?;
        run.version = v;
        let mut preloaded = Some(
            item_doc
                .map(|d| -> Result<Item> {
                    let mut item: Item = decode(&d)?;
                    item.version = d.version;
                    Ok(item)
                })
                .transpose()?,
        );
        if run.status.is_final() {
            return Ok(RunOutcome::AlreadyFinished);
        }
        let now = self.now();
        let Some(due) = run.due_at else {
            return Ok(RunOutcome::Busy);
        };
        if run.status == RunStatus::Running && run.claim_until.is_some_and(|c| c > now) {
            return Ok(RunOutcome::Busy);
        }
        if due > now + chrono::Duration::seconds(1) {
            self.ports
                .scheduler
                .schedule(Job { due_at: due, ..job })
                .await?;
            return Ok(RunOutcome::Rescheduled);
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
                    doc(
                        tenant,
                        Kind::Run,
                        &run.id,
                        run.version,
                        Some(&run.item_id),
                        &run,
                    ),
                    Cond::Version(v),
                )])
                .await
            {
                Ok(()) => {}
                Err(StoreError::Conflict { .. }) => return Ok(RunOutcome::Busy),
                Err(e) => return Err(e.into()),
            }
        }
        // 2–5, retried while the item changes under us
        for _ in 0..=self.config.max_retries {
            let (status, writes) = self.decide(tenant, &run, preloaded.take()).await?;
            match self.ports.store.transact(writes).await {
                Ok(()) => return Ok(RunOutcome::Finished(status)),
                Err(StoreError::Conflict { .. }) => {
                    let cur = self.load::<RunRecord>(tenant, Kind::Run, &run.id).await?;
                    if cur.is_none_or(|(_, cv)| cv != run.version) {
                        return Ok(RunOutcome::Busy); // someone else took over
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(crate::error::EngineError::Conflict(format!(
            "item '{}' kept changing while running '{}'",
            run.item_id, run.id
        )))
    }

    /// Run several due jobs, committing the effects of runs of different
    /// items together: one transaction for as many runs as fit, instead of one
    /// per run. Used by a single worker (`claim_runs` off); with claims on,
    /// or for anything unusual (a repeated item, a run not yet due, a commit
    /// that conflicts), the jobs go through [`Engine::run_job`] one by one, in
    /// order. Outcomes are returned in the order of `jobs`.
    pub async fn run_jobs(&self, jobs: Vec<Job>) -> Result<Vec<RunOutcome>> {
        if self.config.claim_runs || jobs.len() < 2 {
            let mut out = Vec::with_capacity(jobs.len());
            for j in jobs {
                out.push(self.run_job(j).await?);
            }
            return Ok(out);
        }
        let batch = Engine {
            ports: Ports {
                store: Arc::new(BatchReads {
                    store: self.ports.store.clone(),
                    cache: Mutex::new(HashMap::new()),
                }),
                ..self.ports.clone()
            },
            config: self.config.clone(),
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
            let Some(run_doc) = &got[2 * i] else {
                outcomes[i] = Some(RunOutcome::Unknown);
                continue;
            };
            let mut run: RunRecord = decode(run_doc)?;
            run.version = run_doc.version;
            if run.status.is_final() {
                outcomes[i] = Some(RunOutcome::AlreadyFinished);
                continue;
            }
            let ready = run.status == RunStatus::Pending
                && run
                    .due_at
                    .is_some_and(|d| d <= now + chrono::Duration::seconds(1));
            // A second job of one item waits for the first one's commit.
            if !ready || !items_seen.insert((job.tenant.clone(), job.item_id.clone())) {
                single.push(i);
                continue;
            }
            let item = got[2 * i + 1]
                .as_ref()
                .map(|d| -> Result<Item> {
                    let mut item: Item = decode(d)?;
                    item.version = d.version;
                    Ok(item)
                })
                .transpose()?;
            run.attempts += 1;
            let (status, writes) = self.decide(&job.tenant, &run, Some(item)).await?;
            decided.push((i, status, writes));
        }
        // Pack the decided runs into transactions of distinct keys.
        let mut group: Vec<(usize, RunStatus)> = Vec::new();
        let mut writes: Vec<Write> = Vec::new();
        let mut keys_in = std::collections::HashSet::new();
        let mut failed_groups: Vec<usize> = Vec::new();
        let mut iter = decided.into_iter().peekable();
        while let Some((i, status, w)) = iter.next() {
            let fits = writes.len() + w.len() <= MAX_TRANSACTION_WRITES
                && w.iter().all(|x| !keys_in.contains(x.key()));
            if !fits && !group.is_empty() {
                self.commit_group(&mut group, &mut writes, &mut outcomes, &mut failed_groups)
                    .await?;
                keys_in.clear();
            }
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
        match self.ports.store.transact(std::mem::take(writes)).await {
            Ok(()) => {
                for (i, status) in group.drain(..) {
                    outcomes[i] = Some(RunOutcome::Finished(status));
                }
            }
            // Someone changed an item or run meanwhile: retry these one by one.
            Err(StoreError::Conflict { .. } | StoreError::Invalid(_)) => {
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
    async fn decide(
        &self,
        tenant: &str,
        claimed: &RunRecord,
        item: Option<Option<Item>>,
    ) -> Result<(RunStatus, Vec<Write>)> {
        let now = self.now();
        let mut run = claimed.clone();
        let mut writes = Vec::new();
        let item = match item {
            Some(item) => item,
            None => self.load_item(tenant, &run.item_id).await?,
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
            Some(item) => self.perform(tenant, &run, item, now).await?,
        };
        run.status = effect.status;
        run.reason = effect.reason;
        run.outputs = effect.outputs;
        run.finished_at = Some(now);
        run.claim_until = None;
        run.version = claimed.version + 1;
        writes.extend(effect.writes);
        if let Some(item) = &item
            && !effect.writes_item
        {
            writes.push(Write::Check {
                key: DocKey::new(tenant, Kind::Item, &item.id),
                cond: Cond::Version(item.version),
            });
        }
        if run.status != RunStatus::Cancelled
            && let (Some(next), Some(item)) = (&run.next_run, &item)
        {
            writes.extend(self.ready_follower(tenant, next, item, now).await?);
        }
        writes.push(put(
            doc(
                tenant,
                Kind::Run,
                &run.id,
                run.version,
                Some(&run.item_id),
                &run,
            ),
            Cond::Version(claimed.version),
        ));
        if writes.len() > MAX_TRANSACTION_WRITES {
            return Err(
                StoreError::Invalid(format!("run {} needs too many writes", run.id)).into(),
            );
        }
        Ok((run.status, writes))
    }

    /// The robot waiting for a finished one becomes due (counted from now).
    async fn ready_follower(
        &self,
        tenant: &str,
        next: &str,
        item: &Item,
        now: DateTime<Utc>,
    ) -> Result<Vec<Write>> {
        let mut writes = Vec::new();
        let mut next = Some(next.to_string());
        // A follower that cannot get a due time (its date field is empty) is
        // skipped at once, and the one waiting for it is readied in turn.
        while let Some(id) = next.take() {
            let Some((mut f, fv)) = self.load::<RunRecord>(tenant, Kind::Run, &id).await? else {
                break;
            };
            if f.status != RunStatus::Pending || f.due_at.is_some() {
                break;
            }
            let Some(robot) = f.robot.clone() else {
                break;
            };
            let cal = if robot.respect_working_hours || robot.delay.field().is_some() {
                self.user(tenant, &item.responsible_id)
                    .await?
                    .as_ref()
                    .and_then(Engine::calendar)
            } else {
                None
            };
            let tz = cal.as_ref().map_or(chrono_tz::UTC, |c| c.tz);
            match robot_due(&robot, item, now, cal.as_ref(), tz) {
                Ok(due) => {
                    f.due_at = Some(due);
                    writes.push(self.outbox_write(
                        tenant,
                        &format!("ready|{}", f.id),
                        &OutboxRecord::RunReady(Job {
                            tenant: tenant.to_string(),
                            run_id: f.id.clone(),
                            item_id: f.item_id.clone(),
                            visit: f.visit,
                            due_at: due,
                        }),
                    ));
                }
                Err(why) => {
                    f.status = RunStatus::Skipped;
                    f.reason = Some(why);
                    f.finished_at = Some(now);
                    next = f.next_run.clone();
                }
            }
            f.version = fv + 1;
            writes.push(put(
                doc(tenant, Kind::Run, &f.id, f.version, Some(&f.item_id), &f),
                Cond::Version(fv),
            ));
            if writes.len() > MAX_TRANSACTION_WRITES / 2 {
                break;
            }
        }
        Ok(writes)
    }

    /// Check the condition and perform the action of a run on a current visit.
    async fn perform(
        &self,
        tenant: &str,
        run: &RunRecord,
        item: &Item,
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
            .get_many(&[
                DocKey::new(tenant, Kind::Pipeline, &item.pipeline_id),
                DocKey::new(tenant, Kind::User, &item.responsible_id),
            ])
            .await?;
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
        let cx = Ctx {
            tenant,
            run,
            robot,
            item,
            pipeline: &pipeline,
            responsible: responsible.as_ref(),
            outputs: &outputs,
            now,
            ids: self.ports.ids.as_ref(),
        };
        if let Some(c) = &robot.condition
            && !c.evaluate(&cx.item_ctx())
        {
            return Ok(Effect {
                status: RunStatus::Skipped,
                reason: Some(format!(
                    "skipped: condition not met ({})",
                    serde_json::to_string(c).unwrap_or_default()
                )),
                ..Effect::done(Vec::new())
            });
        }
        Ok(match self.act(&cx).await? {
            Ok(e) => e,
            Err(Fail(msg)) => Effect {
                status: RunStatus::Failed,
                reason: Some(format!("failed: {msg}")),
                ..Effect::done(Vec::new())
            },
        })
    }

    async fn visit_outputs(&self, tenant: &str, item_id: &str, visit: u64) -> Result<Outputs> {
        let runs: Vec<RunRecord> = self.list(tenant, Kind::Run, item_id).await?;
        Ok(runs
            .into_iter()
            .filter(|r| r.visit == visit && r.status == RunStatus::Done)
            .filter_map(|r| Some((r.robot_id?, r.outputs)))
            .collect())
    }

    /// A user setting: an id, `responsible` or `supervisor`.
    async fn resolve_user(
        &self,
        cx: &Ctx<'_>,
        spec: &str,
    ) -> Result<std::result::Result<String, Fail>> {
        Ok(match spec {
            RESPONSIBLE => Ok(cx.item.responsible_id.clone()),
            SUPERVISOR => match cx.responsible {
                None => Err(Fail(format!(
                    "responsible '{}' is unknown",
                    cx.item.responsible_id
                ))),
                Some(u) => self
                    .supervisor_of(cx.tenant, u)
                    .await?
                    .ok_or_else(|| Fail(format!("'{}' has no supervisor", u.name))),
            },
            id => Ok(id.to_string()),
        })
    }

    async fn resolve_users(
        &self,
        cx: &Ctx<'_>,
        ids: &[String],
        departments: &[String],
    ) -> Result<std::result::Result<Vec<String>, Fail>> {
        let mut out: Vec<String> = Vec::new();
        for spec in ids {
            match self.resolve_user(cx, spec).await? {
                Ok(u) => {
                    if !out.contains(&u) {
                        out.push(u);
                    }
                }
                Err(f) => return Ok(Err(f)),
            }
        }
        for d in departments {
            let users: Vec<User> = self.list(cx.tenant, Kind::User, d).await?;
            for u in users {
                if !out.contains(&u.id) {
                    out.push(u.id);
                }
            }
        }
        Ok(Ok(out))
    }

    async fn act(&self, cx: &Ctx<'_>) -> Result<ActionResult> {
        macro_rules! tryf {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(f) => return Ok(Err(f)),
                }
            };
        }
        let tenant = cx.tenant;
        let item = cx.item;
        let now = cx.now;
        let fanout = |n: usize| {
            if n > MAX_TRANSACTION_WRITES - 8 {
                Err(Fail(format!(
                    "{n} recipients; at most {} per robot",
                    MAX_TRANSACTION_WRITES - 8
                )))
            } else {
                Ok(())
            }
        };
        let notify = |users: &[String], from: Option<String>, text: &str| -> Vec<Write> {
            users
                .iter()
                .map(|u| {
                    let n = Notification {
                        id: cx.id("ntf"),
                        user_id: u.clone(),
                        from_id: from.clone(),
                        text: text.to_string(),
                        item_id: Some(item.id.clone()),
                        at: now,
                    };
                    put(
                        doc(tenant, Kind::Notification, &n.id, 1, Some(u), &n),
                        Cond::Any,
                    )
                })
                .collect()
        };
        let result = match &cx.robot.action {
            Action::NotifySupervisor(s) => {
                let recipients = if s.recipients.is_empty() {
                    vec![tryf!(self.resolve_user(cx, SUPERVISOR).await?)]
                } else {
                    tryf!(self.resolve_users(cx, &s.recipients, &[]).await?)
                };
                tryf!(fanout(recipients.len()));
                let text = cx.render(&s.text);
                Effect::done(notify(&recipients, None, &text))
                    .note(format!("notified {}", recipients.join(", ")))
            }
            Action::AddHistoryRecord(s) => {
                let author = match &s.author_id {
                    Some(a) => Some(tryf!(self.resolve_user(cx, a).await?)),
                    None => None,
                };
                Effect::done(vec![cx.timeline(
                    "info",
                    author,
                    cx.render(&s.text),
                    Value::Null,
                )])
            }
            Action::CreateTask(s) => {
                let responsible = tryf!(
                    self.resolve_user(cx, s.responsible_id.as_deref().unwrap_or(RESPONSIBLE))
                        .await?
                );
                let accomplices = tryf!(self.resolve_users(cx, &s.accomplice_ids, &[]).await?);
                let auditors = tryf!(self.resolve_users(cx, &s.auditor_ids, &[]).await?);
                let task = Task {
                    id: cx.id("task"),
                    item_id: item.id.clone(),
                    pipeline_id: item.pipeline_id.clone(),
                    stage_id: cx.robot.stage_id.clone(),
                    robot_id: cx.robot.id.clone(),
                    title: cx.render(&s.title),
                    description: cx.render(&s.description),
                    responsible_id: responsible,
                    accomplice_ids: accomplices,
                    auditor_ids: auditors,
                    group: s.group.clone(),
                    time_tracking: s.time_tracking,
                    deadline: s.deadline.map(|d| now + d.to_chrono()),
                    status: TaskStatus::Pending,
                    created_at: now,
                    completed_at: None,
                    version: 1,
                };
                Effect::done(vec![
                    put(
                        doc(tenant, Kind::Task, &task.id, 1, Some(&item.id), &task),
                        Cond::Any,
                    ),
                    cx.timeline(
                        "task_created",
                        None,
                        format!("Task created: {}", task.title),
                        serde_json::json!({"task_id": task.id}),
                    ),
                ])
                .output("task_id", task.id)
            }
            Action::CompleteTask(s) => {
                let pipeline_id = s
                    .pipeline_id
                    .clone()
                    .unwrap_or_else(|| item.pipeline_id.clone());
                let tasks = self.ports.store.list(tenant, Kind::Task, &item.id).await?;
                let mut writes = Vec::new();
                let mut done = Vec::new();
                for d in tasks {
                    let Ok(old) = decode::<Task>(&d) else {
                        continue;
                    };
                    if old.pipeline_id != pipeline_id
                        || !s.stage_ids.contains(&old.stage_id)
                        || old.status == TaskStatus::Completed
                    {
                        continue;
                    }
                    let mut old = old;
                    old.version = d.version;
                    let mut t = old.clone();
                    t.status = TaskStatus::Completed;
                    t.completed_at = Some(now);
                    t.version = d.version + 1;
                    done.push(t.id.clone());
                    writes.extend(self.task_status_writes(
                        tenant,
                        &old,
                        &t,
                        now,
                        None,
                        cx.run.chain.clone(),
                    ));
                }
                if writes.len() > MAX_TRANSACTION_WRITES - 4 {
                    tryf!(Err(Fail(format!(
                        "{} open tasks; at most 15 per run",
                        done.len()
                    ))));
                }
                Effect::done(writes).note(if done.is_empty() {
                    "no open robot tasks on those stages".to_string()
                } else {
                    format!("completed {}", done.join(", "))
                })
            }
            Action::PlanActivity(s) => {
                let responsible = tryf!(
                    self.resolve_user(cx, s.responsible_id.as_deref().unwrap_or(RESPONSIBLE))
                        .await?
                );
                let invited = tryf!(self.resolve_users(cx, &s.invited_user_ids, &[]).await?);
                let cal = if s.respect_working_hours {
                    self.user(tenant, &responsible)
                        .await?
                        .as_ref()
                        .and_then(Engine::calendar)
                } else {
                    None
                };
                let deadline = match s.deadline {
                    Some(d) => d.add_to(now, cal.as_ref()),
                    None => cal.as_ref().map_or(now, |c| c.next_working_instant(now)),
                };
                let a = Activity {
                    id: cx.id("act"),
                    item_id: item.id.clone(),
                    stage_id: cx.robot.stage_id.clone(),
                    visit: cx.run.visit,
                    robot_id: cx.robot.id.clone(),
                    description: cx.render(&s.description),
                    activity_type: s.activity_type,
                    responsible_id: responsible,
                    deadline,
                    color: s.color.clone(),
                    add_to_calendar: s.add_to_calendar,
                    invited_user_ids: invited,
                    address: s.address.as_ref().map(|t| cx.render(t)),
                    location: s.location.as_ref().map(|t| cx.render(t)),
                    link: s.link.as_ref().map(|t| cx.render(t)),
                    auto_complete: s.auto_complete,
                    completed: false,
                    created_at: now,
                    completed_at: None,
                };
                Effect::done(vec![
                    put(
                        doc(tenant, Kind::Activity, &a.id, 1, Some(&item.id), &a),
                        Cond::Any,
                    ),
                    cx.timeline(
                        "activity_planned",
                        None,
                        format!(
                            "Activity planned: {} (due {})",
                            a.description,
                            a.deadline.to_rfc3339()
                        ),
                        serde_json::json!({"activity_id": a.id, "deadline": a.deadline}),
                    ),
                ])
                .output("activity_id", a.id)
            }
            Action::NotifyEmployee(s) => {
                let users = tryf!(
                    self.resolve_users(cx, &s.recipient_ids, &s.department_ids)
                        .await?
                );
                tryf!(fanout(users.len()));
                let from = match &s.sender_id {
                    Some(x) => Some(tryf!(self.resolve_user(cx, x).await?)),
                    None => None,
                };
                Effect::done(notify(&users, from, &cx.render(&s.text)))
                    .note(format!("notified {}", users.join(", ")))
            }
            Action::AddTimelineComment(s) => {
                let author = tryf!(
                    self.resolve_user(cx, s.author_id.as_deref().unwrap_or(RESPONSIBLE))
                        .await?
                );
                Effect::done(vec![cx.timeline(
                    "comment",
                    Some(author),
                    cx.render(&s.text),
                    Value::Null,
                )])
            }
            Action::AddFeedPost(s) => {
                let sender = tryf!(
                    self.resolve_user(cx, s.sender_id.as_deref().unwrap_or(RESPONSIBLE))
                        .await?
                );
                let recipients = tryf!(self.resolve_users(cx, &s.recipient_ids, &[]).await?);
                let post = FeedPost {
                    id: cx.id("post"),
                    subject: cx.render(&s.subject),
                    text: cx.render(&s.text),
                    sender_id: sender,
                    recipient_ids: recipients,
                    department_ids: s.department_ids.clone(),
                    everyone: s.everyone,
                    tag: s.tag.clone(),
                    item_id: Some(item.id.clone()),
                    at: now,
                };
                Effect::done(vec![put(
                    doc(tenant, Kind::FeedPost, &post.id, 1, Some("feed"), &post),
                    Cond::Any,
                )])
                .output("post_id", post.id)
            }
            Action::CreateGroupChat(s) => {
                let members = tryf!(
                    self.resolve_users(cx, &s.member_ids, &s.department_ids)
                        .await?
                );
                if members.len() < 2 {
                    tryf!(Err(Fail(format!(
                        "a group chat needs at least two members, found {}",
                        members.len()
                    ))));
                }
                let chat = Chat {
                    id: cx.id("chat"),
                    name: cx.render(&s.name),
                    member_ids: members,
                    history_hidden_for: Vec::new(),
                    item_id: Some(item.id.clone()),
                    created_at: now,
                    version: 1,
                };
                Effect::done(vec![put(
                    doc(tenant, Kind::Chat, &chat.id, 1, None, &chat),
                    Cond::Any,
                )])
                .output("chat_id", chat.id)
            }
            Action::AddChatMembers(s) => {
                let chat_id = cx.render(&s.chat_id);
                let Some((mut chat, v)) = self.load::<Chat>(tenant, Kind::Chat, &chat_id).await?
                else {
                    tryf!(Err(Fail(format!("chat '{chat_id}' not found"))));
                    unreachable!()
                };
                let users = tryf!(self.resolve_users(cx, &s.user_ids, &[]).await?);
                let mut added = Vec::new();
                for u in users {
                    if !chat.member_ids.contains(&u) {
                        chat.member_ids.push(u.clone());
                        if !s.show_history {
                            chat.history_hidden_for.push(u.clone());
                        }
                        added.push(u);
                    }
                }
                if added.is_empty() {
                    Effect::done(Vec::new()).note("everyone was a member already")
                } else {
                    chat.version = v + 1;
                    Effect::done(vec![put(
                        doc(tenant, Kind::Chat, &chat.id, chat.version, None, &chat),
                        Cond::Version(v),
                    )])
                    .note(format!("added {}", added.join(", ")))
                }
            }
            Action::SendChatMessage(s) => {
                let chat_id = cx.render(&s.chat_id);
                if self
                    .load::<Chat>(tenant, Kind::Chat, &chat_id)
                    .await?
                    .is_none()
                {
                    tryf!(Err(Fail(format!("chat '{chat_id}' not found"))));
                }
                let sender = tryf!(
                    self.resolve_user(cx, s.sender_id.as_deref().unwrap_or(RESPONSIBLE))
                        .await?
                );
                let m = Message {
                    id: cx.id("msg"),
                    chat_id: Some(chat_id.clone()),
                    sender_id: sender,
                    recipient_id: None,
                    message_type: s.message_type,
                    text: cx.render(&s.text),
                    item_id: Some(item.id.clone()),
                    at: now,
                };
                Effect::done(vec![put(
                    doc(
                        tenant,
                        Kind::Message,
                        &m.id,
                        1,
                        Some(&format!("chat:{chat_id}")),
                        &m,
                    ),
                    Cond::Any,
                )])
                .output("message_id", m.id)
            }
            Action::SendDirectMessage(s) => {
                let sender = tryf!(
                    self.resolve_user(cx, s.sender_id.as_deref().unwrap_or(RESPONSIBLE))
                        .await?
                );
                let to = tryf!(self.resolve_user(cx, &s.recipient_id).await?);
                let m = Message {
                    id: cx.id("msg"),
                    chat_id: None,
                    sender_id: sender,
                    recipient_id: Some(to.clone()),
                    message_type: s.message_type,
                    text: cx.render(&s.text),
                    item_id: Some(item.id.clone()),
                    at: now,
                };
                Effect::done(vec![put(
                    doc(
                        tenant,
                        Kind::Message,
                        &m.id,
                        1,
                        Some(&format!("user:{to}")),
                        &m,
                    ),
                    Cond::Any,
                )])
                .output("message_id", m.id)
            }
            Action::EmailEmployee(s) => {
                let to = tryf!(
                    self.employee_contact(cx, s.to_user_id.as_deref(), Channel::Email)
                        .await?
                );
                self.outbound(
                    cx,
                    Outbound {
                        from: Some(s.from.clone().unwrap_or_else(|| format!("robot@{tenant}"))),
                        subject: Some(cx.render(&s.subject)),
                        ..cx.message(Channel::Email, to, cx.render(&s.body))
                    },
                )
            }
            Action::SmsEmployee(s) => {
                let to = tryf!(
                    self.employee_contact(cx, s.user_id.as_deref(), Channel::Sms)
                        .await?
                );
                self.outbound(
                    cx,
                    Outbound {
                        provider: s.provider.clone(),
                        ..cx.message(Channel::Sms, to, cx.render(&s.text))
                    },
                )
            }
            Action::EmailClient(s) => {
                let to = tryf!(
                    item.client
                        .email
                        .clone()
                        .ok_or(Fail("the client has no email".into()))
                );
                self.outbound(
                    cx,
                    Outbound {
                        from: Some(format!("sales@{tenant}")),
                        subject: s.subject.as_ref().map(|t| cx.render(t)),
                        to_client: true,
                        ..cx.message(Channel::Email, to, cx.render(&s.text))
                    },
                )
            }
            Action::SmsClient(s) => {
                let to = tryf!(
                    item.client
                        .phone
                        .clone()
                        .ok_or(Fail("the client has no phone".into()))
                );
                self.outbound(
                    cx,
                    Outbound {
                        provider: s.provider.clone(),
                        to_client: true,
                        ..cx.message(Channel::Sms, to, cx.render(&s.text))
                    },
                )
            }
            Action::ModifyItem(s) => tryf!(self.modify_item(cx, &s.fields).await?),
            Action::ChangeStage(s) => {
                if s.stage_id == item.stage_id {
                    Effect::done(Vec::new()).note("the item is in that stage already")
                } else {
                    let hops = cx.run.chain.hops + 1;
                    if hops > self.config.max_hops {
                        return Ok(Ok(self.loop_stopped(cx, &s.stage_id)));
                    }
                    let mut moved = item.clone();
                    moved.chain = crate::model::Chain {
                        id: cx.run.chain.id.clone(),
                        hops,
                    };
                    let mut timeline = Vec::new();
                    let mv = self.apply_move(
                        cx.pipeline,
                        &mut moved,
                        &s.stage_id,
                        now,
                        None,
                        &mut timeline,
                    );
                    self.item_effect(cx, moved, Some(mv), Vec::new(), timeline)
                        .note(format!("moved the item to '{}'", s.stage_id))
                }
            }
            Action::ChangeResponsible(s) => {
                let mut writes = Vec::new();
                let pick = match s.mode {
                    RotateMode::First => s.user_ids[0].clone(),
                    RotateMode::Rotate => {
                        let id = format!("rotate:{}", cx.robot.id);
                        let cur = self.load::<u64>(tenant, Kind::Counter, &id).await?;
                        let (n, v) = cur.unwrap_or((0, 0));
                        writes.push(put(
                            doc(tenant, Kind::Counter, &id, v + 1, None, &(n + 1)),
                            if v == 0 {
                                Cond::Absent
                            } else {
                                Cond::Version(v)
                            },
                        ));
                        s.user_ids[(n as usize) % s.user_ids.len()].clone()
                    }
                };
                let pick = tryf!(self.resolve_user(cx, &pick).await?);
                if pick == item.responsible_id {
                    Effect::done(writes).note(format!("'{pick}' is responsible already"))
                } else if self.user(tenant, &pick).await?.is_none() {
                    tryf!(Err(Fail(format!("user '{pick}' not found"))))
                } else {
                    let mut changed = item.clone();
                    changed.responsible_id = pick.clone();
                    let tl = vec![TimelineEntry {
                        id: timeline_id(now, &cx.id("tl")),
                        item_id: item.id.clone(),
                        at: now,
                        kind: "responsible_changed".into(),
                        author_id: None,
                        text: format!("Responsible changed from {} to {pick}", item.responsible_id),
                        data: Value::Null,
                    }];
                    let mut e =
                        self.item_effect(cx, changed, None, vec!["responsible_id".into()], tl);
                    e.writes.extend(writes);
                    e.note(format!("responsible is now '{pick}'"))
                }
            }
            Action::CopyItem(s) => {
                let hops = cx.run.chain.hops + 1;
                let stage = s
                    .stage_id
                    .clone()
                    .unwrap_or_else(|| cx.pipeline.stages[0].id.clone());
                if hops > self.config.max_hops {
                    return Ok(Ok(self.loop_stopped(cx, &stage)));
                }
                let responsible = match &s.responsible_id {
                    Some(r) => tryf!(self.resolve_user(cx, r).await?),
                    None => item.responsible_id.clone(),
                };
                let id = cx.id("item");
                let chain = crate::model::Chain {
                    id: cx.run.chain.id.clone(),
                    hops,
                };
                let copy = Item {
                    id: id.clone(),
                    stage_id: stage.clone(),
                    visit: 1,
                    visit_started_at: now,
                    responsible_id: responsible,
                    created_at: now,
                    updated_at: now,
                    version: 1,
                    chain: chain.clone(),
                    ..item.clone()
                };
                let change = ItemChange {
                    tenant: tenant.to_string(),
                    item_id: id.clone(),
                    version: 1,
                    at: now,
                    author_id: None,
                    stage: Some(StageMove {
                        from_stage: None,
                        from_visit: 0,
                        to_stage: stage,
                        to_visit: 1,
                    }),
                    changed: Vec::new(),
                    responsible_changed: false,
                    deleted: false,
                    chain,
                };
                let tl = vec![TimelineEntry {
                    id: timeline_id(now, &format!("{id}-created")),
                    item_id: id.clone(),
                    at: now,
                    kind: "created".into(),
                    author_id: None,
                    text: format!("Copied from {}", item.id),
                    data: serde_json::json!({"copied_from": item.id}),
                }];
                let mut writes = self.item_change_writes(tenant, None, &copy, &change, tl);
                // A repeated run finds the copy already there: same id, one copy.
                if let Some(Write::Put { cond, .. }) = writes.first_mut() {
                    *cond = Cond::Any;
                }
                Effect::done(writes).output("item_id", id)
            }
            Action::DeleteItem(_) => {
                let writes = self.delete_writes(tenant, item, now, None, cx.run.chain.clone());
                Effect {
                    writes_item: true,
                    ..Effect::done(writes)
                }
                .note("deleted the item")
            }
        };
        Ok(Ok(result))
    }

    fn loop_stopped(&self, cx: &Ctx<'_>, target: &str) -> Effect {
        Effect {
            status: RunStatus::LoopStopped,
            reason: Some(format!(
                "loop stopped: chain {} already made {} automatic moves (limit {}); not moving to '{target}'",
                cx.run.chain.id, cx.run.chain.hops, self.config.max_hops
            )),
            ..Effect::done(Vec::new())
        }
    }

    /// Writes that commit a changed item (version check, outbox, timeline).
    fn item_effect(
        &self,
        cx: &Ctx<'_>,
        mut changed: Item,
        stage: Option<StageMove>,
        fields: Vec<String>,
        timeline: Vec<TimelineEntry>,
    ) -> Effect {
        changed.version = cx.item.version + 1;
        changed.updated_at = cx.now;
        let change = ItemChange {
            tenant: cx.tenant.to_string(),
            item_id: changed.id.clone(),
            version: changed.version,
            at: cx.now,
            author_id: None,
            stage,
            responsible_changed: fields.iter().any(|f| f == "responsible_id"),
            changed: fields,
            deleted: false,
            chain: changed.chain.clone(),
        };
        let writes = self.item_change_writes(cx.tenant, Some(cx.item), &changed, &change, timeline);
        Effect {
            writes_item: true,
            ..Effect::done(writes)
        }
    }

    /// The email address or phone (by `channel`) of the employee a setting
    /// names (default: the item's responsible).
    async fn employee_contact(
        &self,
        cx: &Ctx<'_>,
        spec: Option<&str>,
        channel: Channel,
    ) -> Result<std::result::Result<String, Fail>> {
        let uid = match self.resolve_user(cx, spec.unwrap_or(RESPONSIBLE)).await? {
            Ok(u) => u,
            Err(f) => return Ok(Err(f)),
        };
        let user = self.user(cx.tenant, &uid).await?;
        let contact = user.and_then(|u| match channel {
            Channel::Email => u.email,
            Channel::Sms => u.phone,
        });
        let what = if channel == Channel::Email {
            "email"
        } else {
            "phone"
        };
        Ok(contact.ok_or(Fail(format!("user '{uid}' has no {what}"))))
    }

    /// Queue an outbound message: the message, its delivery (through the
    /// outbox), and for the client a timeline entry.
    fn outbound(&self, cx: &Ctx<'_>, m: Outbound) -> Effect {
        let channel = m.channel;
        let to_client = m.to_client;
        let mut writes = vec![
            put(
                doc(
                    cx.tenant,
                    Kind::Outbound,
                    &m.id,
                    1,
                    Some(channel.as_str()),
                    &m,
                ),
                Cond::Any,
            ),
            self.outbox_write(
                cx.tenant,
                &format!("deliver|{}", m.id),
                &OutboxRecord::Deliver {
                    tenant: cx.tenant.to_string(),
                    outbound_id: m.id.clone(),
                },
            ),
        ];
        if to_client {
            writes.push(cx.timeline(
                &format!("{}_sent", channel.as_str()),
                None,
                format!(
                    "{} sent to the client ({})",
                    if channel == Channel::Email {
                        "Email"
                    } else {
                        "SMS"
                    },
                    m.to
                ),
                serde_json::json!({"message_id": m.id}),
            ));
        }
        Effect::done(writes).output("message_id", m.id)
    }

    async fn modify_item(
        &self,
        cx: &Ctx<'_>,
        fields: &BTreeMap<String, Value>,
    ) -> Result<std::result::Result<Effect, Fail>> {
        let ictx = cx.item_ctx();
        let mut item = cx.item.clone();
        let mut changed = Vec::new();
        for (path, raw) in fields {
            let v = match raw {
                Value::String(src) => match Template::parse(src) {
                    Ok(t) => t.render_value(&ictx),
                    Err(e) => return Ok(Err(Fail(format!("{path}: {e}")))),
                },
                v => v.clone(),
            };
            let text = || format_value(&v);
            let before = serde_json::to_value(&item).unwrap_or(Value::Null);
            match path.as_str() {
                "title" => {
                    if text().trim().is_empty() {
                        return Ok(Err(Fail("title would be empty".into())));
                    }
                    item.title = text();
                }
                "amount" => match v.as_f64().or_else(|| text().trim().parse().ok()) {
                    Some(a) => item.amount = a,
                    None => return Ok(Err(Fail(format!("amount: '{}' is not a number", text())))),
                },
                "currency" => item.currency = text(),
                "is_repeat" => {
                    item.is_repeat = match &v {
                        Value::Bool(b) => *b,
                        _ => matches!(text().to_lowercase().as_str(), "true" | "y" | "yes" | "1"),
                    }
                }
                "responsible_id" => {
                    let u = text();
                    if self.user(cx.tenant, &u).await?.is_none() {
                        return Ok(Err(Fail(format!("responsible_id: user '{u}' not found"))));
                    }
                    item.responsible_id = u;
                }
                "client.name" | "client.phone" | "client.email" => {
                    let val = (!v.is_null()).then(text);
                    let c: &mut Client = &mut item.client;
                    match path.as_str() {
                        "client.name" => c.name = val,
                        "client.phone" => c.phone = val,
                        _ => c.email = val,
                    }
                }
                p => {
                    let Some(key) = p.strip_prefix("fields.") else {
                        return Ok(Err(Fail(format!("'{p}' cannot be modified"))));
                    };
                    let Some(def) = cx.pipeline.field(key) else {
                        return Ok(Err(Fail(format!("unknown field '{key}'"))));
                    };
                    let coerced = coerce(def.field_type, v.clone());
                    let one: BTreeMap<String, Value> = [(key.to_string(), coerced.clone())].into();
                    if let Some(e) = check_fields(cx.pipeline, &one).into_iter().next() {
                        return Ok(Err(Fail(format!("{}: {}", e.field, e.message))));
                    }
                    if coerced.is_null() {
                        item.fields.remove(key);
                    } else {
                        item.fields.insert(key.to_string(), coerced);
                    }
                }
            }
            if serde_json::to_value(&item).unwrap_or(Value::Null) != before {
                changed.push(path.clone());
            }
        }
        if changed.is_empty() {
            return Ok(Ok(Effect::done(Vec::new()).note("no field changed")));
        }
        let tl = vec![TimelineEntry {
            id: timeline_id(cx.now, &cx.id("tl")),
            item_id: item.id.clone(),
            at: cx.now,
            kind: "fields_changed".into(),
            author_id: None,
            text: format!("Robot changed {}", changed.join(", ")),
            data: serde_json::json!({"fields": changed}),
        }];
        let note = format!("changed {}", changed.join(", "));
        Ok(Ok(self.item_effect(cx, item, None, changed, tl).note(note)))
    }
}

/// Coerce a rendered value to a field type where the text form is unambiguous.
fn coerce(t: crate::model::FieldType, v: Value) -> Value {
    use crate::model::FieldType as F;
    match (t, &v) {
        (F::Number, Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(v, Value::Number),
        (F::Bool, Value::String(s)) => match s.to_lowercase().as_str() {
            "true" | "y" | "yes" | "1" => Value::Bool(true),
            "false" | "n" | "no" | "0" | "" => Value::Bool(false),
            _ => v,
        },
        (
            F::String | F::User | F::File | F::Date | F::Datetime | F::List,
            Value::Number(_) | Value::Bool(_),
        ) => Value::String(format_value(&v)),
        (F::List, Value::String(s)) if s.is_empty() => Value::Null,
        _ => v,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::json;

    use super::*;
    use crate::memory::MemStore;

    /// A store that counts the documents read from it.
    #[derive(Default)]
    struct Counting {
        store: MemStore,
        reads: AtomicUsize,
    }

    #[async_trait]
    impl DocStore for Counting {
        async fn get(&self, key: &DocKey) -> std::result::Result<Option<Doc>, StoreError> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            self.store.get(key).await
        }
        async fn list(
            &self,
            tenant: &str,
            kind: Kind,
            parent: &str,
        ) -> std::result::Result<Vec<Doc>, StoreError> {
            self.store.list(tenant, kind, parent).await
        }
        async fn transact(&self, writes: Vec<Write>) -> std::result::Result<(), StoreError> {
            self.store.transact(writes).await
        }
    }

    fn user(name: &str, version: u64) -> Doc {
        Doc {
            key: DocKey::new("t", Kind::User, "u1"),
            version,
            parent: None,
            expires_at: None,
            body: json!({ "name": name }),
        }
    }

    #[tokio::test]
    async fn a_batch_reads_settings_once_and_never_serves_what_it_overwrote() {
        let inner = Arc::new(Counting::default());
        inner
            .transact(vec![put(user("Anna", 1), Cond::Absent)])
            .await
            .unwrap();
        let batch = BatchReads {
            store: inner.clone(),
            cache: Mutex::new(HashMap::new()),
        };
        let key = DocKey::new("t", Kind::User, "u1");
        let item = DocKey::new("t", Kind::Item, "i1");
        for _ in 0..3 {
            let got = batch.get_many(&[key.clone(), item.clone()]).await.unwrap();
            assert_eq!(
                got[0].as_ref().map(|d| d.body["name"].clone()),
                Some(json!("Anna"))
            );
            assert_eq!(got[1], None);
        }
        // The user once; the item (not a setting) every time.
        assert_eq!(inner.reads.load(Ordering::Relaxed), 1 + 3);
        batch
            .transact(vec![put(user("Boris", 2), Cond::Version(1))])
            .await
            .unwrap();
        let got = batch.get(&key).await.unwrap().unwrap();
        assert_eq!((got.version, got.body["name"].clone()), (2, json!("Boris")));
    }
}
