//! Back-pressure on writes, per tenant: a tenant's writes wait while the
//! worker is [`RuntimeOptions::max_backlog`] or more of THAT tenant's outbox
//! records behind, so one tenant's burst slows its own writes, not
//! another's (the worker serves the tenants' records in turn).

use super::*;

/// Pending outbox records per tenant: as many as the worker last counted,
/// minus those it processed since, plus the writes admitted since (an
/// estimate: a write that queued nothing counts until the next count).
#[derive(Default)]
pub(super) struct PendingWrites(std::sync::Mutex<HashMap<String, usize>>);

impl PendingWrites {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What the worker counted, tenant by tenant (replaces the estimate).
    pub(super) fn counted(&self, counts: &[(String, usize)]) {
        *self.lock() = counts.iter().cloned().collect();
    }

    /// One record of `tenant` processed.
    pub(super) fn processed(&self, tenant: &str) {
        let mut m = self.lock();
        if let Some(n) = m.get_mut(tenant) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(tenant);
            }
        }
    }

    fn of(&self, tenant: &str) -> usize {
        self.lock().get(tenant).copied().unwrap_or(0)
    }

    fn admitted(&self, tenant: &str) {
        *self.lock().entry(tenant.to_string()).or_default() += 1;
    }
}

impl Runtime {
    /// Back-pressure for a tenant's write: wait while the worker is
    /// [`RuntimeOptions::max_backlog`] or more of the tenant's outbox records
    /// behind (at most [`MAX_BACKPRESSURE_WAIT`], and not at all while
    /// shutting down); then count the write as pending.
    pub async fn admit_write(&self, tenant: &str) {
        let started = Instant::now();
        while self.inner.pending.of(tenant) >= self.inner.max_backlog
            && !self.stopping()
            && started.elapsed() < MAX_BACKPRESSURE_WAIT
        {
            self.notify();
            let _ = tokio::time::timeout(Duration::from_millis(10), self.inner.progress.notified())
                .await;
        }
        self.inner.pending.admitted(tenant);
    }
}

/// The router's hook ([`crm_http::WriteGate`]) on the runtime.
pub struct RuntimeWriteGate(pub Runtime);

#[async_trait]
impl crm_http::WriteGate for RuntimeWriteGate {
    async fn admit(&self, tenant: &str) {
        self.0.admit_write(tenant).await;
    }
}
