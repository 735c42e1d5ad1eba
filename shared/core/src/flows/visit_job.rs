//! Visit jobs (issue #11): the immediate runs of one visit as ONE job, run in
//! robot order and committed in ONE transaction.
//!
//! Planning sends a visit's runs that are due now as one [`Job`] (the first
//! run, the others in [`Job::then`]). [`Engine::run_visit_job`]:
//!
//! 1. reads all the runs, the item and its timeline counter in one batch;
//! 2. decides run 1, then run 2 against the state run 1's writes leave, and
//!    so on, through an [`OverlayStore`] (reads see the writes decided so
//!    far; the pipeline, responsible and robot are read once for all runs).
//!    A robot that moves the item ends the visit: the later runs, seeing the
//!    item's new visit, are cancelled as they would be one by one;
//! 3. composes the decided writes into one transaction
//!    ([`ComposedWrites`]: each key once, under its first condition against
//!    the real store), split at run boundaries when the runs' writes and
//!    their report counts do not fit one transaction;
//! 4. commits. Every run record's version is among the conditions, so a
//!    repeated or concurrent delivery of the job commits nothing twice.
//!
//! Anything unusual goes through [`Engine::run_job`] one run at a time,
//! re-reading everything, from that run on, in order: a run that is not
//! simply pending and due (waiting, claimed, not yet due), writes that
//! cannot be composed exactly or exceed a transaction, a commit that fails
//! (a conflict, a rejection), and every run when claims are on.

use std::sync::Arc;

use super::compose_writes::ComposedWrites;
use super::overlay_store::OverlayStore;
use super::robot_run::RunOutcome;
use crate::engine::Engine;
use crate::error::{EngineError, Result};
use crate::model::{RunRecord, RunStatus};
use crate::ports::{DocKey, DocStore, Job, Kind, MAX_TRANSACTION_WRITES, Ports, StoreError};
use crate::reports::commit::aggregate_writes;
use crate::store::{decode, timeline_counter_key};

/// Most runs one visit job carries (planning sends a visit's immediate runs
/// in jobs of at most this many; a longer `then` is refused as malformed).
pub const MAX_VISIT_JOB_RUNS: usize = 50;

/// The runs of one transaction: their composed writes and (position in the
/// job, status reached).
type Group = (ComposedWrites, Vec<(usize, RunStatus)>);

/// The job of one run of a visit job.
fn one(job: &Job, run_id: &str) -> Job {
    Job {
        run_id: run_id.to_string(),
        then: Vec::new(),
        ..job.clone()
    }
}

/// The outcome of a visit job as one outcome (for callers that ack a job
/// as a whole): a claim on any run defers the whole job (its finished runs
/// are found final when it comes back); otherwise the first run's outcome —
/// every other run that is not final has its own follow-up (a timer of its
/// own, or the robot it waits for).
pub fn job_outcome(outcomes: &[(String, RunOutcome)]) -> RunOutcome {
    let claimed = outcomes
        .iter()
        .filter_map(|(_, o)| match o {
            RunOutcome::Claimed { until } => Some(*until),
            _ => None,
        })
        .max();
    match (claimed, outcomes.first()) {
        (Some(until), _) => RunOutcome::Claimed { until },
        (None, Some((_, o))) => o.clone(),
        (None, None) => RunOutcome::Unknown,
    }
}

impl Engine {
    /// Run a job and every run in its [`Job::then`], in order; one outcome
    /// per run, in that order. A job without `then` is [`Engine::run_job`].
    pub async fn run_visit_job(&self, job: Job) -> Result<Vec<(String, RunOutcome)>> {
        if job.then.len() >= MAX_VISIT_JOB_RUNS {
            return Err(EngineError::BadRequest {
                field: "then".into(),
                message: format!(
                    "a visit job carries at most {MAX_VISIT_JOB_RUNS} runs, this one {}",
                    job.then.len() + 1
                ),
            });
        }
        let ids: Vec<String> = std::iter::once(job.run_id.clone())
            .chain(job.then.iter().cloned())
            .collect();
        // Delivered before its due time (a copy deferred behind a claim that
        // came early): put back whole, as `run_job` does with one run.
        if self.put_back_if_early(&job).await? {
            return Ok(ids
                .into_iter()
                .map(|id| (id, RunOutcome::Rescheduled))
                .collect());
        }
        let mut outcomes: Vec<Option<RunOutcome>> = vec![None; ids.len()];
        let single_from = if job.then.is_empty()
            || self.config.claim_runs
            || crate::outbound::job::outbound_of(&job).is_some()
        {
            0
        } else {
            self.run_composed(&job, &ids, &mut outcomes).await?
        };
        for (i, id) in ids.iter().enumerate().skip(single_from) {
            outcomes[i] = Some(self.run_job(one(&job, id)).await?);
        }
        Ok(ids
            .into_iter()
            .zip(outcomes)
            .map(|(id, o)| (id, o.expect("every run has an outcome")))
            .collect())
    }

    /// Read what the pending runs' decisions read — the pipeline, the
    /// responsible and every robot — in one batch into the overlay, instead
    /// of one batch per run (settled: they are settings, never written by
    /// the runs, [`DocStore::get_many_settled`]). `got`: the runs, then the
    /// item (and its timeline counter).
    async fn prefetch_settings(
        &self,
        overlay: &OverlayStore,
        tenant: &str,
        got: &[Option<crate::ports::Doc>],
    ) -> Result<()> {
        let [runs @ .., item_doc, _counter] = got else {
            return Ok(());
        };
        let Some(item) = item_doc
            .as_ref()
            .and_then(|d| decode::<crate::model::Item>(d).ok())
        else {
            return Ok(());
        };
        let mut keys = vec![
            DocKey::new(tenant, Kind::Pipeline, &item.pipeline_id),
            DocKey::new(tenant, Kind::User, &item.responsible_id),
        ];
        keys.extend(
            runs.iter()
                .flatten()
                .filter_map(|d| decode::<RunRecord>(d).ok())
                .filter(|r| r.status == RunStatus::Pending && r.visit == item.visit)
                .filter_map(|r| {
                    r.robot
                        .map(|robot| DocKey::new(tenant, Kind::Robot, robot.id))
                }),
        );
        if keys.len() > 2 {
            let docs = self.ports.store.get_many_settled(&keys).await?;
            overlay.seed(&keys, &docs);
        }
        Ok(())
    }

    /// Decide the job's runs in order against an overlay and commit them in
    /// as few transactions as fit. Fills `outcomes` of the runs before the
    /// returned position; the runs from there on go one by one.
    async fn run_composed(
        &self,
        job: &Job,
        ids: &[String],
        outcomes: &mut [Option<RunOutcome>],
    ) -> Result<usize> {
        let tenant = job.tenant.as_str();
        let overlay = Arc::new(OverlayStore::new(self.ports.store.clone()));
        let run_key = |id: &str| DocKey::new(tenant, Kind::Run, id);
        // One batch: every run, the item and its timeline counter.
        let mut keys: Vec<DocKey> = ids.iter().map(|id| run_key(id)).collect();
        keys.push(DocKey::new(tenant, Kind::Item, &job.item_id));
        keys.push(timeline_counter_key(tenant, &job.item_id));
        let got = self.ports.store.get_many(&keys).await?;
        overlay.seed(&keys, &got);
        self.prefetch_settings(&overlay, tenant, &got).await?;
        let view = Engine {
            ports: Ports {
                store: overlay.clone(),
                ..self.ports.clone()
            },
            ..self.clone()
        };
        let now = self.now();
        let mut groups: Vec<Group> = Vec::new();
        let mut current: Group = (ComposedWrites::new(), Vec::new());
        let mut stop = ids.len();
        for (i, id) in ids.iter().enumerate() {
            // Through the overlay: an earlier run may have written it.
            let Some(d) = overlay.get(&run_key(id)).await? else {
                outcomes[i] = Some(RunOutcome::Unknown);
                continue;
            };
            let mut run: RunRecord = decode(&d)?;
            run.version = d.version;
            if run.status.is_final() {
                outcomes[i] = Some(RunOutcome::AlreadyFinished);
                continue;
            }
            let simple = run.status == RunStatus::Pending
                && run.due_at.is_some_and(|due| due <= now)
                && run.item_id == job.item_id
                && run.visit == job.visit;
            if !simple {
                stop = i;
                break;
            }
            run.attempts += 1;
            let (status, writes) = match view.decide(tenant, &run, None).await {
                Ok(decided) => decided,
                // Too many writes (the single path makes it `failed`), or a
                // write of the decision's own that the overlay refused or
                // that lost a race: this run and the rest one by one.
                Err(EngineError::Store(
                    StoreError::Rejected(_) | StoreError::Invalid(_) | StoreError::Conflict { .. },
                )) => {
                    stop = i;
                    break;
                }
                Err(e) => return Err(e),
            };
            let mut joined = current.0.clone();
            if joined.add(&writes).is_err() {
                stop = i;
                break;
            }
            if joined.writes().len() + aggregate_writes(joined.writes()) > MAX_TRANSACTION_WRITES {
                // This run starts the next transaction: its conditions are
                // about the state the earlier ones leave once committed.
                let mut alone = ComposedWrites::new();
                if alone.add(&writes).is_err() {
                    stop = i;
                    break;
                }
                groups.push(std::mem::replace(&mut current, (alone, Vec::new())));
            } else {
                current.0 = joined;
            }
            current.1.push((i, status));
            overlay.apply(&writes);
        }
        if !current.1.is_empty() {
            groups.push(current);
        }
        for (writes, runs) in groups {
            if writes.is_empty() {
                continue;
            }
            match self.ports.store.transact(writes.into_writes()).await {
                Ok(()) => {
                    for (i, status) in runs {
                        outcomes[i] = Some(RunOutcome::Finished(status));
                    }
                }
                // Someone changed a run or the item meanwhile, or the store
                // refuses the composed writes: these runs and the later ones
                // one by one (they find what committed final).
                Err(
                    e @ (StoreError::Conflict { .. }
                    | StoreError::Invalid(_)
                    | StoreError::Rejected(_)),
                ) => {
                    let from = runs.first().map_or(stop, |(i, _)| *i);
                    tracing::debug!(
                        run_id = %ids[from], error = %e,
                        "a visit job's composed commit failed; its runs go one by one"
                    );
                    return Ok(from);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(stop)
    }
}

/// The jobs of one visit's runs (one item, one visit, in robot order) as
/// they are sent: the runs due by `now` as visit jobs of up to
/// [`MAX_VISIT_JOB_RUNS`] runs each (in robot order), the others one job
/// each, as before.
pub(crate) fn visit_jobs(jobs: Vec<Job>, now: chrono::DateTime<chrono::Utc>) -> Vec<Job> {
    let (due, later): (Vec<Job>, Vec<Job>) = jobs.into_iter().partition(|j| j.due_at <= now);
    let mut out: Vec<Job> = due
        .chunks(MAX_VISIT_JOB_RUNS)
        .map(|chunk| Job {
            then: chunk[1..].iter().map(|j| j.run_id.clone()).collect(),
            due_at: chunk.iter().map(|j| j.due_at).max().unwrap_or(now),
            ..chunk[0].clone()
        })
        .collect();
    out.extend(later);
    out
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn a_visits_due_runs_go_as_visit_jobs_in_order_and_later_ones_alone() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
        let job = |n: usize, due| Job {
            tenant: "t".into(),
            run_id: format!("i:1:r{n}"),
            item_id: "i".into(),
            visit: 1,
            due_at: due,
            then: Vec::new(),
        };
        let later = now + chrono::Duration::hours(1);
        let mut jobs: Vec<Job> = (0..MAX_VISIT_JOB_RUNS + 2).map(|n| job(n, now)).collect();
        jobs.insert(1, job(99, later));
        let out = visit_jobs(jobs, now);
        assert_eq!(out.len(), 3, "{out:?}");
        assert_eq!(out[0].run_id, "i:1:r0");
        assert_eq!(out[0].then.len(), MAX_VISIT_JOB_RUNS - 1);
        assert_eq!(out[0].then[0], "i:1:r1");
        assert_eq!(out[1].run_id, format!("i:1:r{MAX_VISIT_JOB_RUNS}"));
        assert_eq!(
            out[1].then,
            vec![format!("i:1:r{}", MAX_VISIT_JOB_RUNS + 1)]
        );
        assert_eq!((out[2].run_id.as_str(), out[2].due_at), ("i:1:r99", later));
        assert!(out[2].then.is_empty());
        // One run due now: a plain job, as before.
        let one = visit_jobs(vec![job(0, now)], now);
        assert_eq!(one, vec![job(0, now)]);
    }

    #[test]
    fn a_job_without_then_keeps_its_old_body_and_an_old_body_parses() {
        let old = r#"{"tenant":"t","run_id":"i:1:r","item_id":"i","visit":1,"due_at":"2026-12-01T10:00:00Z"}"#;
        let job: Job = serde_json::from_str(old).unwrap();
        assert!(job.then.is_empty());
        assert_eq!(serde_json::to_string(&job).unwrap(), old);
        let visit = Job {
            then: vec!["i:1:r2".into()],
            ..job
        };
        let back: Job = serde_json::from_str(&serde_json::to_string(&visit).unwrap()).unwrap();
        assert_eq!(back, visit);
    }
}
