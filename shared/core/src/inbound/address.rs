//! The tenant's inbound email address: `in_{32 hex}@{inbound domain}`,
//! made on first use (the first robot email to a client once incoming
//! email is on) and never rotated (a sent email's `Reply-To` must keep
//! working). Its id is a public id ([`crate::public_id`]): the tenant's
//! document (`Kind::InboundAddress`, id [`ADDRESS_DOC_ID`]) names it, and a
//! `_system` document of the same kind names its owner, so that a mail to
//! the address (or a reply naming a tagged `Message-ID`) finds its tenant
//! with one read. Both are written once, together; a process keeps what it
//! read in memory ([`InboundState`]).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::error::{EngineError, Result};
use crate::model::{Channel, Outbound};
use crate::ports::{Cond, Kind};
use crate::public_id;
use crate::store::{doc, put};

/// The tenant's document naming its address.
pub const ADDRESS_DOC_ID: &str = "inbound";
/// The prefix of address ids (`in_` and 32 hex digits).
pub const ADDRESS_PREFIX: &str = "in";
/// Most entries each of the in-memory maps keeps (emptied when full).
const MAX_CACHED: usize = 10_000;

/// The stored address of a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantAddress {
    /// The address id: the local part of the address.
    pub id: String,
    pub created_at: DateTime<Utc>,
}

/// What the engine keeps for incoming email: the domain its addresses are
/// at (set once at start; without it, emails carry no `Reply-To` and no
/// tag) and the addresses and owners read so far.
#[derive(Debug, Default)]
pub struct InboundState {
    domain: OnceLock<String>,
    ids: Mutex<HashMap<String, String>>,
    owners: Mutex<HashMap<String, String>>,
}

fn cached(map: &Mutex<HashMap<String, String>>, k: &str) -> Option<String> {
    map.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(k)
        .cloned()
}

fn remember(map: &Mutex<HashMap<String, String>>, k: &str, v: &str) {
    let mut m = map.lock().unwrap_or_else(PoisonError::into_inner);
    if m.len() >= MAX_CACHED {
        m.clear();
    }
    m.insert(k.to_string(), v.to_string());
}

/// The address id of `address` (`in_…@domain`, any case) when it has the
/// shape of one; the domain is checked by the caller.
pub fn address_id_of(address: &str) -> Option<String> {
    let (local, _) = address.trim().rsplit_once('@')?;
    let id = local.trim_start_matches('<').to_ascii_lowercase();
    public_id::has_shape(&id, ADDRESS_PREFIX).then_some(id)
}

impl Engine {
    /// Turn incoming email on: the domain of the tenants' inbound addresses
    /// (`CRM_INBOUND_DOMAIN`). Only the first call counts.
    pub fn set_inbound_domain(&self, domain: &str) {
        let d = domain.trim().trim_start_matches('@').to_ascii_lowercase();
        if !d.is_empty() {
            let _ = self.inbound.domain.set(d);
        }
    }

    /// The inbound domain, if incoming email is on.
    pub fn inbound_domain(&self) -> Option<&str> {
        self.inbound.domain.get().map(String::as_str)
    }

    /// Does `address` belong to the inbound domain (any case)?
    pub fn is_inbound_address(&self, address: &str) -> bool {
        let Some(domain) = self.inbound_domain() else {
            return false;
        };
        address
            .trim()
            .trim_end_matches('>')
            .rsplit_once('@')
            .is_some_and(|(_, d)| d.eq_ignore_ascii_case(domain))
    }

    /// The tenant's address id; made (with its owner record) when the
    /// tenant has none and `create` is set. Two first uses at once agree:
    /// the loser of the conditional put reads the winner's.
    pub async fn inbound_address_id(&self, tenant: &str, create: bool) -> Result<Option<String>> {
        if let Some(id) = cached(&self.inbound.ids, tenant) {
            return Ok(Some(id));
        }
        for _ in 0..2 {
            if let Some((a, _)) = self
                .load_kind::<TenantAddress>(tenant, Kind::InboundAddress, ADDRESS_DOC_ID)
                .await?
            {
                remember(&self.inbound.ids, tenant, &a.id);
                remember(&self.inbound.owners, &a.id, tenant);
                return Ok(Some(a.id));
            }
            if !create {
                return Ok(None);
            }
            let a = TenantAddress {
                id: public_id::generate(ADDRESS_PREFIX),
                created_at: self.now(),
            };
            let writes = vec![
                put(
                    doc(tenant, Kind::InboundAddress, ADDRESS_DOC_ID, 1, None, &a),
                    Cond::Absent,
                ),
                public_id::owner_write(tenant, Kind::InboundAddress, &a.id),
            ];
            match self.commit(writes, String::new).await {
                Ok(()) | Err(EngineError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(EngineError::Conflict(format!(
            "the inbound address of tenant '{tenant}' was made and lost at the same time"
        )))
    }

    /// The tenant's full inbound address (made on first use), or `None`
    /// when incoming email is off.
    pub async fn inbound_address(&self, tenant: &str) -> Result<Option<String>> {
        let Some(domain) = self.inbound_domain().map(str::to_string) else {
            return Ok(None);
        };
        let id = self
            .inbound_address_id(tenant, true)
            .await?
            .expect("an address is made when missing");
        Ok(Some(format!("{id}@{domain}")))
    }

    /// The tenant an address id belongs to (one point read, then kept in
    /// memory); `None` for an id of another shape or unknown.
    pub async fn inbound_owner(&self, id: &str) -> Result<Option<String>> {
        let id = id.to_ascii_lowercase();
        if !public_id::has_shape(&id, ADDRESS_PREFIX) {
            return Ok(None);
        }
        if let Some(t) = cached(&self.inbound.owners, &id) {
            return Ok(Some(t));
        }
        let owner = self.public_id_owner(Kind::InboundAddress, &id).await?;
        if let Some(t) = &owner {
            remember(&self.inbound.owners, &id, t);
        }
        Ok(owner)
    }

    /// `m` with the tenant's inbound address as its `Reply-To` when it is an
    /// email to the item's client and incoming email is on; otherwise
    /// unchanged.
    pub async fn with_reply_to(&self, mut m: Outbound) -> Result<Outbound> {
        if m.channel != Channel::Email || !m.to_client || m.item_id.is_none() {
            return Ok(m);
        }
        m.reply_to = self.inbound_address(&m.tenant).await?;
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_ids_are_recognised_in_any_case() {
        let id = public_id::generate(ADDRESS_PREFIX);
        assert_eq!(
            address_id_of(&format!("{}@In.Shop.Test", id.to_uppercase())).as_deref(),
            Some(id.as_str())
        );
        assert_eq!(address_id_of("in_123@x.test"), None);
        assert_eq!(address_id_of("sales@x.test"), None);
    }
}
