//! Public site keys of the tracker: make, page, delete; find the tenant of one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::{Engine, Page, PageRequest};
use crate::error::{EngineError, Result};
use crate::ports::{DocKey, Kind};
use crate::public_id;
use crate::store::decode;

/// Longest label of a site key.
pub const MAX_LABEL_LEN: usize = 200;

/// A site key (public: it is in the tenant's pages).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SiteKey {
    /// `sk_` and 32 hex digits.
    pub id: String,
    /// What the operator called it (e.g. the site's name).
    pub label: String,
    pub created_at: DateTime<Utc>,
}

/// Whether `id` has the shape of a site key.
pub fn is_site_key(id: &str) -> bool {
    public_id::has_shape(id, "sk")
}

impl Engine {
    /// Make a site key (label: at most 200 characters, may be empty).
    pub async fn create_site_key(&self, tenant: &str, label: &str) -> Result<SiteKey> {
        if label.chars().count() > MAX_LABEL_LEN {
            return Err(EngineError::invalid(
                "label",
                format!("must be at most {MAX_LABEL_LEN} characters long"),
            ));
        }
        let key = SiteKey {
            id: public_id::generate("sk"),
            label: label.trim().to_string(),
            created_at: self.now(),
        };
        self.ports
            .store
            .transact(public_id::create(tenant, Kind::SiteKey, &key.id, &key))
            .await?;
        Ok(key)
    }

    /// One page of the tenant's site keys.
    pub async fn site_keys_page(&self, tenant: &str, req: &PageRequest) -> Result<Page<SiteKey>> {
        let page = self
            .page_docs(
                tenant,
                Kind::SiteKey,
                &[public_id::LISTED.to_string()],
                req,
                |_| Ok(true),
            )
            .await?;
        let items = page.items.iter().map(decode).collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    /// Delete a site key: its beacons answer 403 from now on.
    pub async fn delete_site_key(&self, tenant: &str, id: &str) -> Result<()> {
        if self
            .ports
            .store
            .get(&DocKey::new(tenant, Kind::SiteKey, id))
            .await?
            .is_none()
        {
            return Err(EngineError::not_found("site key", id));
        }
        self.ports
            .store
            .transact(public_id::delete(tenant, Kind::SiteKey, id))
            .await?;
        Ok(())
    }

    /// The tenant of a site key; None for an unknown or deleted one.
    pub async fn site_key_tenant(&self, id: &str) -> Result<Option<String>> {
        if !is_site_key(id) {
            return Ok(None);
        }
        self.public_id_owner(Kind::SiteKey, id).await
    }
}
