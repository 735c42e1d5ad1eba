//! `POST /v1/outbox/{id}/retry`: a `failed` message (the dead letter) is
//! queued again with a fresh budget of attempts, and its run's `delivery`
//! ([`super::run_delivery`]) is taken off.

use crate::engine::Engine;
use crate::error::{EngineError, Result};
use crate::model::{Outbound, OutboundStatus, OutboxRecord};
use crate::ports::{Cond, StoreError};
use crate::store::{put, record_doc};

impl Engine {
    /// Queue failed message `id` again: it becomes `queued` (attempts back to
    /// 0; its `last_error` kept until an attempt succeeds or fails anew) and
    /// is delivered after this commit. Unknown id (or another tenant's) →
    /// 404; a message that is not `failed` → 409.
    pub async fn retry_outbound(&self, tenant: &str, id: &str) -> Result<Outbound> {
        let Some((mut m, v)) = self.load::<Outbound>(tenant, id).await? else {
            return Err(EngineError::not_found("message", id));
        };
        if m.status != OutboundStatus::Failed {
            return Err(EngineError::Conflict(format!(
                "message '{id}' is {}: only a failed message can be retried",
                m.status.as_str()
            )));
        }
        m.status = OutboundStatus::Queued;
        m.attempts = 0;
        m.next_attempt_at = None;
        let attempt = format!("deliver|{}|retry{v}", m.id);
        let mut writes = vec![
            put(record_doc(tenant, &m, v + 1), Cond::Version(v)),
            self.outbox_write(
                tenant,
                &attempt,
                &OutboxRecord::Deliver {
                    tenant: tenant.to_string(),
                    outbound_id: m.id.clone(),
                },
            ),
        ];
        // Its run no longer shows the failure (the message is queued).
        writes.extend(self.run_delivery_write(&m, None).await?);
        match self.ports.store.transact(writes).await {
            Ok(()) => Ok(m),
            Err(StoreError::Conflict { .. }) => Err(EngineError::Conflict(format!(
                "message '{id}' or its run changed meanwhile; read it again"
            ))),
            Err(e) => Err(e.into()),
        }
    }
}
