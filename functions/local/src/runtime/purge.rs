//! The purge of expired documents: SQLite has no TTL of its own, so the
//! worker deletes what is past its `expires_at` (event records, copy
//! counters…), a batch per pass, once an hour of the runtime's clock — or
//! at the next pass while a full batch was found.

use super::*;

/// Most expired documents deleted in one pass.
pub const PURGE_LIMIT: usize = 1_000;

/// How often the worker looks for expired documents.
pub const PURGE_EVERY: TimeDelta = TimeDelta::hours(1);

impl Runtime {
    pub(super) async fn purge_pass(&self, st: &mut WorkState) {
        let now = self.inner.clock.now();
        if st.next_purge.is_some_and(|at| now < at) {
            return;
        }
        st.next_purge = Some(now + PURGE_EVERY);
        match self
            .inner
            .store
            .purge_expired(now.timestamp(), PURGE_LIMIT)
            .await
        {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(deleted = n, "expired documents purged");
                if n == PURGE_LIMIT {
                    st.next_purge = Some(now); // more are waiting
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "purging expired documents failed; retried in an hour")
            }
        }
    }
}
