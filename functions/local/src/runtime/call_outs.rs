//! Outbox records that call an endpoint the tenant chose — a webhook robot's
//! call, up to its 30 s timeout ([`Engine::outbox_calls_out`]) — run beside
//! the worker's pass when the clock is the system's: a slow endpoint of one
//! tenant holds up its own calls only, never another tenant's planning or
//! robots. At most
//! [`CALLS_PER_TENANT`] of a tenant's run at once, [`CALLS`] in all; the
//! others wait in the outbox for a slot. A record stays in the outbox until
//! its call is done (after a crash it is called again; a webhook carries
//! its run id as `Idempotency-Key`), and a failure gets the worker's usual
//! backoff. With the manual clock they run inline, so a clock advance
//! returns with their effects.

use super::*;
use crm_core::ports::Doc;

/// Most call-out records of one tenant in flight at once.
pub const CALLS_PER_TENANT: usize = 4;
/// Most call-out records in flight at once, all tenants together.
pub const CALLS: usize = 64;

/// The call-out records in flight and those finished since the worker last
/// looked.
#[derive(Default)]
pub(super) struct CallOuts(std::sync::Mutex<CallOutState>);

#[derive(Default)]
struct CallOutState {
    /// Outbox id → tenant, of the records being processed.
    in_flight: HashMap<String, String>,
    /// Outbox id and error (`None`: done) of the records processed.
    finished: Vec<(String, Option<String>)>,
}

impl CallOuts {
    fn lock(&self) -> std::sync::MutexGuard<'_, CallOutState> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Take a slot for record `id` of `tenant`: `false` if it is in flight
    /// already, or the tenant (or everyone) has no slot left.
    fn start(&self, id: &str, tenant: &str) -> bool {
        let mut s = self.lock();
        let of_tenant = s.in_flight.values().filter(|t| *t == tenant).count();
        if s.in_flight.contains_key(id)
            || of_tenant >= CALLS_PER_TENANT
            || s.in_flight.len() >= CALLS
        {
            return false;
        }
        s.in_flight.insert(id.to_string(), tenant.to_string());
        true
    }

    fn finish(&self, id: String, error: Option<String>) {
        self.lock().finished.push((id, error));
    }

    /// The records processed since the last call; they leave the in-flight
    /// set now (not when their task ends), so a failed one is not taken
    /// again before its failure is recorded.
    fn take_finished(&self) -> Vec<(String, Option<String>)> {
        let mut s = self.lock();
        let finished = std::mem::take(&mut s.finished);
        for (id, _) in &finished {
            s.in_flight.remove(id);
        }
        finished
    }
}

impl Runtime {
    /// Process a call-out record beside the pass; `false` when it waits for
    /// a slot (or is in flight already).
    pub(super) fn spawn_call_out(&self, tenant: &str, d: Doc) -> bool {
        let id = d.key.id.clone();
        if !self.inner.call_outs.start(&id, tenant) {
            return false;
        }
        let rt = self.clone();
        tokio::spawn(async move {
            let error = rt
                .inner
                .engine
                .process_outbox(d)
                .await
                .err()
                .map(|e| e.to_string());
            rt.inner.call_outs.finish(id, error);
            rt.notify();
        });
        true
    }

    /// Record the outcomes of the call-outs finished since the last pass
    /// (a failure waits for its retry); returns how many are done.
    pub(super) fn collect_call_outs(&self, st: &mut WorkState) -> usize {
        let mut done = 0;
        for (id, error) in self.inner.call_outs.take_finished() {
            let key = WorkKey::Outbox(id);
            match error {
                None => {
                    st.succeed(&key);
                    done += 1;
                }
                Some(e) => st.fail(key, &e),
            }
        }
        done
    }
}
