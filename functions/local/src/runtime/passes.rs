//! One pass of the worker over queued events (large ones in parts) and due
//! jobs in lanes (the outbox pass is `outbox_pass.rs`).

use super::*;

impl Runtime {
    /// Evaluate queued events, each tenant in turn: at most `batch` of each
    /// tenant's oldest events, and at most `batch` item evaluations of each
    /// tenant, per pass. An event whose items do not fit is continued in the
    /// next pass, and the tenant's later events wait for it. Each event is
    /// acked once evaluated for all its items. Returns the events finished
    /// and the parts of unfinished events evaluated.
    pub(super) async fn event_pass(&self, st: &mut WorkState) -> (usize, usize) {
        if st.blocked(&WorkKey::EventList) {
            return (0, 0);
        }
        let limit = self.inner.batch + st.event_holds();
        let events = match self.inner.events.take_fair(limit, limit) {
            Ok(v) => {
                st.succeed(&WorkKey::EventList);
                v
            }
            Err(e) => {
                st.fail(WorkKey::EventList, &e);
                return (0, 0);
            }
        };
        if events.len() < limit {
            // Every stored event was returned: forget failures and progress
            // of acked ones.
            let present: HashSet<EventSeq> = events.iter().map(|(seq, _)| *seq).collect();
            st.failures
                .retain(|k, _| !matches!(k, WorkKey::Event(seq) if !present.contains(seq)));
            st.events.retain(|seq, _| present.contains(seq));
        }
        // Item evaluations left to each tenant in this pass.
        let mut share: HashMap<String, usize> = HashMap::new();
        let mut slice = Slice::new();
        let (mut done, mut parts) = (0, 0);
        for (seq, event) in events {
            if self.stopping() {
                break;
            }
            let key = WorkKey::Event(seq);
            if st.blocked(&key) {
                continue;
            }
            let left = share
                .entry(event.tenant.clone())
                .or_insert(self.inner.batch);
            if *left == 0 {
                continue; // the tenant had its share of this pass
            }
            match self.evaluate_part(st, seq, &event, left, &mut slice).await {
                Ok(true) => {
                    st.succeed(&key);
                    done += 1;
                }
                Ok(false) => {
                    st.succeed(&key);
                    parts += 1;
                }
                Err(e) => st.fail(key, &e),
            }
            slice.tick().await;
        }
        (done, parts)
    }

    /// Evaluate the event for as many of its remaining items as `left`
    /// allows (at least one step, an event without items included); ack it
    /// if that finished it. `Ok(false)`: items are left for a later pass.
    async fn evaluate_part(
        &self,
        st: &mut WorkState,
        seq: EventSeq,
        event: &QueuedEvent,
        left: &mut usize,
        slice: &mut Slice,
    ) -> Result<bool, String> {
        let engine = &self.inner.engine;
        let mut progress = st.events.remove(&seq).unwrap_or_default();
        // The caller checked `*left > 0`; an event without items takes a step.
        let mut took = false;
        loop {
            if progress.pending.is_empty() {
                let Some(cursor) = progress.cursor.take() else {
                    break; // every page listed and evaluated
                };
                match engine
                    .event_items_page(event, &cursor, EVENT_ITEMS_PAGE)
                    .await
                {
                    Ok(page) => {
                        progress.pending = page.items.into();
                        progress.cursor = page.next;
                    }
                    Err(e) => {
                        progress.cursor = Some(cursor);
                        st.events.insert(seq, progress);
                        return Err(e.to_string());
                    }
                }
                continue;
            }
            if *left == 0 {
                tracing::debug!(event_id = %event.event_id, done = progress.tally.count, "event evaluated in part; continued in the next pass");
                st.events.insert(seq, progress);
                return Ok(false); // the tenant's later events wait for this one
            }
            let item = progress.pending.front().cloned().unwrap_or_default();
            if let Err(e) = engine.evaluate_event_item(event, &item).await {
                st.events.insert(seq, progress);
                return Err(e.to_string());
            }
            progress.pending.pop_front();
            progress.tally.add(std::slice::from_ref(&item));
            *left -= 1;
            took = true;
            slice.tick().await;
        }
        if !took {
            *left -= 1;
        }
        engine
            .finish_event(event, progress.tally)
            .await
            .map_err(|e| e.to_string())?;
        self.inner.events.ack(seq).map_err(|e| e.to_string())?;
        Ok(true)
    }

    /// Run a batch of due jobs, acking each after it reached a final state.
    pub(super) async fn job_pass(&self, st: &mut WorkState) -> usize {
        if st.blocked(&WorkKey::JobList) {
            return 0;
        }
        let now = self.inner.clock.now();
        let limit = self.inner.batch + st.job_holds();
        // Each tenant in turn: one tenant's backlog of due jobs does not keep
        // another's out of the batch.
        let jobs = match self.inner.jobs.take_due_fair(now, limit, limit) {
            Ok(v) => {
                st.succeed(&WorkKey::JobList);
                v
            }
            Err(e) => {
                st.fail(WorkKey::JobList, &e);
                return 0;
            }
        };
        if jobs.len() < limit {
            // Every due job was returned, and held jobs are always due (their
            // stored due time has passed): forget holds of jobs that are gone
            // (a timer cancelled because its visit ended).
            let present: HashSet<String> = jobs.iter().map(Job::schedule_name).collect();
            st.waiting.retain(|name, _| present.contains(name));
            st.failures
                .retain(|k, _| !matches!(k, WorkKey::Job(name) if !present.contains(name)));
        }
        let runnable: Vec<Job> = jobs
            .into_iter()
            .filter(|job| {
                let name = job.schedule_name();
                !st.blocked(&WorkKey::Job(name.clone()))
                    && st.waiting.get(&name).is_none_or(|t| *t <= now)
            })
            .collect();
        if runnable.is_empty() {
            return 0;
        }
        // Lanes run in parallel; the jobs of one item share a lane and keep
        // their due order in it.
        let lanes = self.inner.lanes.min(runnable.len());
        let mut per_lane: Vec<Vec<Job>> = vec![Vec::new(); lanes];
        for job in runnable {
            per_lane[lane_of(&job, lanes)].push(job);
        }
        let mut tasks = Vec::with_capacity(lanes);
        for lane in per_lane {
            let rt = self.clone();
            let copy = lane.clone();
            tasks.push((copy, tokio::spawn(async move { rt.run_lane(lane).await })));
        }
        let mut done = 0;
        for (lane, task) in tasks {
            let results = match task.await {
                Ok(r) => r,
                Err(e) => {
                    // A panic in the engine: the lane's jobs are still stored
                    // and are retried after a backoff (runs are idempotent).
                    let msg = format!("job lane failed: {e}");
                    for job in &lane {
                        st.fail(WorkKey::Job(job.schedule_name()), &msg);
                    }
                    continue;
                }
            };
            for (job, outcome) in results {
                let name = job.schedule_name();
                let key = WorkKey::Job(name.clone());
                let result = match outcome {
                    LaneOutcome::Acked => {
                        st.waiting.remove(&name);
                        Ok(true)
                    }
                    LaneOutcome::NotYet => self.hold(st, &job, &name).await,
                    LaneOutcome::Failed(e) => Err(e),
                };
                match result {
                    Ok(acked) => {
                        st.succeed(&key);
                        if acked {
                            done += 1;
                        }
                    }
                    Err(e) => st.fail(key, &e),
                }
            }
        }
        done
    }

    /// Run the jobs of one lane in due order, [`BATCH_RUNS`] at a time: the
    /// engine commits the runs of different items of a batch together
    /// ([`Engine::run_jobs`]) and the finished jobs are acked in one transaction.
    async fn run_lane(&self, jobs: Vec<Job>) -> Vec<(Job, LaneOutcome)> {
        let mut slice = Slice::new();
        let mut out = Vec::with_capacity(jobs.len());
        for chunk in jobs.chunks(self.inner.batch_runs) {
            if self.stopping() {
                break;
            }
            match self.inner.engine.run_jobs(chunk.to_vec()).await {
                Ok(outcomes) => {
                    let finished = |o: &RunOutcome| {
                        matches!(
                            o,
                            RunOutcome::Finished(_)
                                | RunOutcome::AlreadyFinished
                                | RunOutcome::Unknown
                        )
                    };
                    let done: Vec<Job> = chunk
                        .iter()
                        .zip(&outcomes)
                        .filter(|(_, o)| finished(o))
                        .map(|(j, _)| j.clone())
                        .collect();
                    let acked = self.inner.jobs.ack_many(&done).map_err(|e| e.to_string());
                    for (job, o) in chunk.iter().zip(outcomes) {
                        let outcome = if finished(&o) {
                            match &acked {
                                Ok(()) => LaneOutcome::Acked,
                                Err(e) => LaneOutcome::Failed(e.clone()),
                            }
                        } else {
                            LaneOutcome::NotYet
                        };
                        out.push((job.clone(), outcome));
                    }
                }
                // Runs committed before the error are found final on retry.
                Err(e) => {
                    out.extend(
                        chunk
                            .iter()
                            .map(|j| (j.clone(), LaneOutcome::Failed(e.to_string()))),
                    );
                }
            }
            slice.tick().await;
        }
        out
    }

    /// Remove a finished job from the queue.
    fn ack(&self, st: &mut WorkState, job: &Job, name: &str) -> Result<bool, String> {
        self.inner.jobs.ack(job).map_err(|e| e.to_string())?;
        st.waiting.remove(name);
        Ok(true)
    }

    /// The engine could not run the job yet. Look at its run: if it can never
    /// run from this job, ack the job; otherwise keep the job stored (so a
    /// crash cannot lose it) and retry it when the run can start.
    async fn hold(&self, st: &mut WorkState, job: &Job, name: &str) -> Result<bool, String> {
        let key = DocKey::new(job.tenant.as_str(), Kind::Run, job.run_id.as_str());
        let stored = self
            .inner
            .engine
            .ports()
            .store
            .get(&key)
            .await
            .map_err(|e| e.to_string())?;
        let run: Option<RunRecord> = stored
            .map(|d| serde_json::from_value(d.body))
            .transpose()
            .map_err(|e| format!("run record {key}: {e}"))?;
        let now = self.inner.clock.now();
        let not_before = match run {
            // Gone or final: this job has nothing left to do.
            None => return self.ack(st, job, name),
            Some(r) if r.status.is_final() => return self.ack(st, job, name),
            // Waiting for its previous robot, which readies it (with a new job).
            Some(r) if r.status == RunStatus::Pending && r.due_at.is_none() => {
                return self.ack(st, job, name);
            }
            Some(r) => {
                let mut t = r.due_at.unwrap_or(now);
                if r.status == RunStatus::Running
                    && let Some(c) = r.claim_until
                {
                    t = t.max(c);
                }
                t
            }
        };
        let not_before = if not_before > now {
            ceil_millis(not_before)
        } else {
            ceil_millis(now + TimeDelta::seconds(1))
        };
        tracing::debug!(run_id = %job.run_id, %not_before, "job held until its run can start");
        st.waiting.insert(name.to_string(), not_before);
        Ok(false)
    }
}
