//! The worker's pass over the pending transactional-outbox records: the
//! tenants that have any, each in turn, a page of [`OUTBOX_PAGE`] records at
//! a time, until each tenant's records are done or it had its share of the
//! pass ([`RuntimeOptions::outbox_share`] records). Memory is one page,
//! however far behind a tenant is; no step lists the whole outbox.

use super::*;
use crm_core::ports::Doc;

/// Outbox records read (and processed) at once: one tenant's page.
pub(super) const OUTBOX_PAGE: usize = 256;

/// Where a tenant's records are in this pass.
struct Turn {
    tenant: String,
    /// The last record read (the next page starts after it).
    after: Option<String>,
    /// Records the tenant may still have read in this pass.
    share: usize,
}

impl Runtime {
    /// Process the pending outbox records, each tenant's in turn, every one
    /// of them when no tenant has more than its share. A record only plans
    /// (it queues its visit's job), so a burst's backlog moves on to the job
    /// queue, read a fair share at a time, instead of holding writers back
    /// ([`Runtime::admit_write`]) while the job pass works (BENCHMARKS.md).
    pub(super) async fn outbox_pass(&self, st: &mut WorkState) -> usize {
        let mut done = self.collect_call_outs(st);
        if st.blocked(&WorkKey::OutboxList) {
            return done;
        }
        let share = self.inner.outbox_share;
        let counts = match self.outbox_counts(self.inner.max_backlog).await {
            Ok(c) => {
                st.succeed(&WorkKey::OutboxList);
                c
            }
            Err(e) => {
                st.fail(WorkKey::OutboxList, &e);
                return done;
            }
        };
        self.inner.pending.counted(&counts);
        let mut turns: VecDeque<Turn> = counts
            .into_iter()
            .map(|(tenant, _)| Turn {
                tenant,
                after: None,
                share,
            })
            .collect();
        // Every record read; when the pass read each tenant's to the end,
        // failures of the others (processed meanwhile) are forgotten.
        let mut seen: HashSet<String> = HashSet::new();
        let mut read_all = true;
        let mut slice = Slice::new();
        while let Some(mut turn) = turns.pop_front() {
            if self.stopping() {
                read_all = false;
                break;
            }
            let limit = OUTBOX_PAGE.min(turn.share);
            let page = match self
                .inner
                .engine
                .tenant_outbox_page(&turn.tenant, turn.after.as_deref(), limit)
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    st.fail(WorkKey::OutboxList, &e);
                    read_all = false;
                    break;
                }
            };
            let full = page.len() == limit;
            turn.share -= page.len();
            for d in page {
                turn.after = Some(d.key.id.clone());
                seen.insert(d.key.id.clone());
                done += usize::from(self.process_outbox_record(st, &turn.tenant, d).await);
                slice.tick().await;
            }
            match (full, turn.share) {
                (false, _) => {}               // the tenant's records are done
                (true, 0) => read_all = false, // its share is: the rest waits for the next pass
                (true, _) => turns.push_back(turn),
            }
        }
        if read_all {
            st.failures
                .retain(|k, _| !matches!(k, WorkKey::Outbox(id) if !seen.contains(id)));
        }
        done
    }

    /// Process one record unless it waits for its retry; `true` if it is done.
    async fn process_outbox_record(&self, st: &mut WorkState, tenant: &str, d: Doc) -> bool {
        let key = WorkKey::Outbox(d.key.id.clone());
        if st.blocked(&key) {
            return false;
        }
        if self.inner.clock.manual().is_none() && Engine::outbox_calls_out(&d) {
            // Beside the pass (`call_outs.rs`); counted done when it is.
            if self.spawn_call_out(tenant, d) {
                self.inner.pending.processed(tenant);
            }
            return false;
        }
        let ok = match self.inner.engine.process_outbox(d).await {
            Ok(()) => {
                st.succeed(&key);
                true
            }
            Err(e) => {
                st.fail(key, &e);
                false
            }
        };
        self.inner.pending.processed(tenant);
        self.inner.progress.notify_waiters();
        ok
    }

    /// The tenants with pending outbox records, in id order, and how many
    /// each has (counted up to `max`): one seek and one index count each.
    pub(super) async fn outbox_counts(
        &self,
        max: usize,
    ) -> Result<Vec<(String, usize)>, crm_core::error::EngineError> {
        let engine = &self.inner.engine;
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        while let Some(tenant) = engine.next_outbox_tenant(after.as_deref()).await? {
            let n = engine.tenant_outbox_count(&tenant, max).await?;
            after = Some(tenant.clone());
            out.push((tenant, n));
        }
        Ok(out)
    }
}
