//! Advertising audiences as the default adapter of the audiences port keeps
//! them (`GET /v1/audiences`, `GET /v1/audiences/{network}/{audience_id}/members`).

use crate::audiences::{
    AUDIENCES, Audience, AudienceMember, NETWORKS, audience_key, valid_audience_id,
};
use crate::error::{EngineError, Result};
use crate::ports::{DocKey, Kind};
use crate::store::decode;

use super::Engine;
use super::paging::{Page, PageRequest};

impl Engine {
    /// One page of the tenant's audiences (network, audience id, member
    /// count), in (network, audience id) order.
    pub async fn audiences_page(&self, tenant: &str, req: &PageRequest) -> Result<Page<Audience>> {
        let page = self
            .page_docs(
                tenant,
                Kind::Audience,
                &[AUDIENCES.to_string()],
                req,
                |_| Ok(true),
            )
            .await?;
        Ok(Page {
            items: page.items.iter().map(decode).collect::<Result<_>>()?,
            next_cursor: page.next_cursor,
        })
    }

    /// One page of an audience's members (hashed contacts, item id, when
    /// added), in item id order. An unknown network or audience → 404.
    pub async fn audience_members_page(
        &self,
        tenant: &str,
        network: &str,
        audience_id: &str,
        req: &PageRequest,
    ) -> Result<Page<AudienceMember>> {
        let id = audience_key(network, audience_id);
        let known = NETWORKS.contains(&network)
            && valid_audience_id(audience_id)
            && self
                .ports
                .store
                .get(&DocKey::new(tenant, Kind::Audience, &id))
                .await?
                .is_some();
        if !known {
            return Err(EngineError::not_found("audience", id));
        }
        let page = self
            .page_docs(tenant, Kind::AudienceMember, &[id], req, |_| Ok(true))
            .await?;
        Ok(Page {
            items: page.items.iter().map(decode).collect::<Result<_>>()?,
            next_cursor: page.next_cursor,
        })
    }
}
