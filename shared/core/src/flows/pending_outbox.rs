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

    /// The first tenant after `after` (in byte order; from the first when
    /// `None`) that has a pending outbox record.
    pub async fn next_outbox_tenant(&self, after: Option<&str>) -> Result<Option<String>> {
        // Tenant names never hold '|' or '}' (`validate_tenant`), so every
        // id `{after}|…` sorts below `{after}}` and every later tenant's above.
        let from = after.map(|t| format!("{t}}}"));
        let first = self
            .ports
            .store
            .list_page(
                SYSTEM_TENANT,
                Kind::Outbox,
                OUTBOX_PENDING,
                from.as_deref(),
                1,
            )
            .await?;
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
            .ports
            .store
            .list_page(
                SYSTEM_TENANT,
                Kind::Outbox,
                OUTBOX_PENDING,
                Some(after.unwrap_or(&prefix)),
                limit,
            )
            .await?;
        Ok(page
            .into_iter()
            .take_while(|d| d.key.id.starts_with(&prefix))
            .collect())
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
