//! The pending transactional-outbox records as the local runtime polls them
//! (on AWS the table's stream delivers them). A record's id is
//! `{tenant}|{record id}`, so one tenant's records are one range of the
//! list: read a page at a time, counted from the list's index, and the
//! tenants that have any found one seek each (a skip scan) — no step reads
//! the whole outbox, however far behind one tenant is.

use crate::engine::{Engine, OUTBOX_PENDING};
use crate::error::Result;
use crate::ports::{Doc, Kind, SYSTEM_TENANT};

impl Engine {
    /// Every pending outbox record (tests, and the in-memory runtime's
    /// drain; the local worker reads [`Engine::tenant_outbox_page`]).
    pub async fn pending_outbox(&self) -> Result<Vec<Doc>> {
        Ok(self
            .ports
            .store
            .list(SYSTEM_TENANT, Kind::Outbox, OUTBOX_PENDING)
            .await?)
    }

    /// The tenant an outbox record works for: its id's first part.
    pub fn outbox_tenant(d: &Doc) -> &str {
        outbox_id_tenant(&d.key.id)
    }

    /// Does processing this outbox record call an endpoint the tenant
    /// chose (a webhook robot's URL, which may take up to its 30 s timeout)?
    /// Read without decoding the record. The local worker runs these beside
    /// its pass, so one tenant's slow endpoint holds up nobody else's work.
    /// (Message providers and ad platforms are the operator's, configured
    /// once for everyone; their records are processed in the pass.)
    pub fn outbox_calls_out(d: &Doc) -> bool {
        d.body.get("type").and_then(serde_json::Value::as_str) == Some("call_webhook")
    }

    /// The first tenant after `after` (in byte order; from the first when
    /// `None`) that has a pending outbox record.
    pub async fn next_outbox_tenant(&self, after: Option<&str>) -> Result<Option<String>> {
        // Tenant names never hold '|' or '}' (`validate_tenant`), so every
        // id `{after}|…` sorts below `{after}}` and every later tenant's above.
        let from = after.map(|t| format!("{t}}}"));
        let first = self.outbox_page(from.as_deref(), 1).await?;
        Ok(first
            .first()
            .map(|d| outbox_id_tenant(&d.key.id).to_string()))
    }

    /// At most `limit` of `tenant`'s pending outbox records, in id order
    /// (an item's changes in version order), after the record id `after`
    /// (from its first when `None`).
    pub async fn tenant_outbox_page(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Doc>> {
        let prefix = format!("{tenant}|");
        let page = self
            .outbox_page(Some(after.unwrap_or(&prefix)), limit)
            .await?;
        Ok(page
            .into_iter()
            .take_while(|d| d.key.id.starts_with(&prefix))
            .collect())
    }

    /// At most `limit` pending outbox records after the id `from`.
    async fn outbox_page(&self, from: Option<&str>, limit: usize) -> Result<Vec<Doc>> {
        Ok(self
            .ports
            .store
            .list_page(SYSTEM_TENANT, Kind::Outbox, OUTBOX_PENDING, from, limit)
            .await?)
    }

    /// How many pending outbox records `tenant` has, counting at most `max`.
    pub async fn tenant_outbox_count(&self, tenant: &str, max: usize) -> Result<usize> {
        Ok(self
            .ports
            .store
            .count_prefix(
                SYSTEM_TENANT,
                Kind::Outbox,
                OUTBOX_PENDING,
                &format!("{tenant}|"),
                max,
            )
            .await?)
    }
}

/// The tenant part of an outbox record's id.
fn outbox_id_tenant(id: &str) -> &str {
    id.split_once('|').map_or("", |(tenant, _)| tenant)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::OutboxRecord;
    use crate::ports::DocKey;

    fn doc_of(record: &OutboxRecord) -> Doc {
        crate::store::doc(SYSTEM_TENANT, Kind::Outbox, "t|x", 1, None, record)
    }

    #[test]
    fn webhook_calls_are_told_by_their_type() {
        let t = || "acme".to_string();
        let webhook = OutboxRecord::CallWebhook {
            tenant: t(),
            run_id: "r".into(),
        };
        assert!(Engine::outbox_calls_out(&doc_of(&webhook)));
        let deliver = OutboxRecord::Deliver {
            tenant: t(),
            outbound_id: "o".into(),
        };
        assert!(
            !Engine::outbox_calls_out(&doc_of(&deliver)),
            "the operator's provider"
        );
        let local = OutboxRecord::CancelRobotRuns {
            tenant: t(),
            robot_id: "robot-1".into(),
            page: 0,
            after: None,
        };
        assert!(!Engine::outbox_calls_out(&doc_of(&local)));
        let d = doc_of(&local);
        assert_eq!(d.key, DocKey::new(SYSTEM_TENANT, Kind::Outbox, "t|x"));
        assert_eq!(Engine::outbox_tenant(&d), "t");
    }
}
