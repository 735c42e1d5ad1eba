//! Public ids (web forms `wf_…`, site keys `sk_…`): unguessable ids that
//! reach the product without an API key, so their tenant must be found from
//! the id alone. Each is the tenant's document, listed under [`LISTED`], and
//! a `_system` document of the same kind naming its owner; both are written
//! and deleted in one transaction.

use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::error::Result;
use crate::ports::{Cond, DocKey, Kind, SYSTEM_TENANT, Write};
use crate::store::{doc, put};

/// The parent a tenant's public-id documents are listed under.
pub const LISTED: &str = "all";

/// The `_system` lookup document: whose the id is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Owner {
    tenant: String,
}

/// A fresh public id: `prefix` + `_` + 128 random bits in hex.
pub fn generate(prefix: &str) -> String {
    format!("{prefix}_{:032x}", rand::random::<u128>())
}

/// Whether `id` has the shape [`generate`] gives with `prefix` (anything
/// else is not looked up).
pub fn has_shape(id: &str, prefix: &str) -> bool {
    id.len() == prefix.len() + 33
        && id.starts_with(prefix)
        && id[prefix.len()..].starts_with('_')
        && id[prefix.len() + 1..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The writes that make `body` the tenant's document `id` of `kind` and
/// record its owner (both must not exist yet).
pub fn create(tenant: &str, kind: Kind, id: &str, body: &impl Serialize) -> Vec<Write> {
    let owner = Owner {
        tenant: tenant.to_string(),
    };
    vec![
        put(doc(tenant, kind, id, 1, Some(LISTED), body), Cond::Absent),
        put(doc(SYSTEM_TENANT, kind, id, 1, None, &owner), Cond::Absent),
    ]
}

/// The write that records `tenant` as the owner of public id `id` of
/// `kind` (which must not exist yet), for kinds whose tenant document is
/// kept elsewhere (the inbound email address).
pub fn owner_write(tenant: &str, kind: Kind, id: &str) -> Write {
    let owner = Owner {
        tenant: tenant.to_string(),
    };
    put(doc(SYSTEM_TENANT, kind, id, 1, None, &owner), Cond::Absent)
}

/// The writes that delete the tenant's document `id` of `kind` and its
/// owner record.
pub fn delete(tenant: &str, kind: Kind, id: &str) -> Vec<Write> {
    vec![
        Write::Delete {
            key: DocKey::new(tenant, kind, id),
            parent: Some(LISTED.to_string()),
            cond: Cond::Any,
        },
        Write::Delete {
            key: DocKey::new(SYSTEM_TENANT, kind, id),
            parent: None,
            cond: Cond::Any,
        },
    ]
}

impl Engine {
    /// The tenant of the public id `id` of `kind` (one point read); `None`
    /// for an unknown or deleted one.
    pub(crate) async fn public_id_owner(&self, kind: Kind, id: &str) -> Result<Option<String>> {
        Ok(self
            .load_kind::<Owner>(SYSTEM_TENANT, kind, id)
            .await?
            .map(|(o, _)| o.tenant))
    }
}
