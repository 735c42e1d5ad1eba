//! Visitors of the tracked site: tying a visitor id to a client, and the
//! beacon of a page view.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api::EventBody;
use crate::client_index::client_ref_keys;
use crate::engine::Engine;
use crate::error::{EngineError, Result};
use crate::model::ClientRef;
use crate::ports::{Kind, StoreError};
use crate::store::{doc, put};

/// A visit more than this many minutes after the visitor's previous one is
/// a return (`client_returned`).
pub const RETURN_AFTER_MINUTES: i64 = 30;
/// An anonymous visitor's record is kept this long after its last visit.
pub const ANONYMOUS_TTL_DAYS: i64 = 30;
/// A tied visitor's record is kept this long after its last visit.
pub const KNOWN_TTL_DAYS: i64 = 400;
/// Beacons of one visitor closer together than this write nothing (the
/// previous visit time is then at most this much older than it was).
pub const COALESCE_SECONDS: i64 = 60;
/// Longest page URL or referrer.
pub const MAX_URL_LEN: usize = 2048;

/// What the store keeps of a visitor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Visitor {
    /// The client, once a form was submitted with this visitor id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client: Option<ClientRef>,
    last_seen_at: DateTime<Utc>,
}

/// One page view (the beacon's body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Beacon {
    /// The tenant's public site key (`sk_…`).
    pub site_key: String,
    /// The tracker's visitor id (8–64 of `A-Z a-z 0-9 - _`).
    pub visitor_id: String,
    /// The page's URL (`http(s)://`, at most 2,048 characters).
    pub url: String,
    /// The referring page, if any.
    #[serde(default)]
    pub referrer: Option<String>,
}

/// What a beacon did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VisitOutcome {
    /// Events raised (`site_visit`, `client_returned`).
    pub raised: Vec<String>,
}

/// Whether `id` can be a visitor id.
pub fn is_visitor_id(id: &str) -> bool {
    (8..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn check_url(field: &str, url: &str) -> Result<()> {
    if url.len() > MAX_URL_LEN {
        return Err(EngineError::invalid(
            field,
            format!("must be at most {MAX_URL_LEN} characters long"),
        ));
    }
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(EngineError::invalid(field, "must be an http(s) URL"));
    }
    Ok(())
}

impl Beacon {
    /// 422 naming the field for a bad visitor id or URL.
    pub fn check(&self) -> Result<()> {
        if !is_visitor_id(&self.visitor_id) {
            return Err(EngineError::invalid(
                "visitor_id",
                "must be 8 to 64 of A-Z, a-z, 0-9, '-' and '_'",
            ));
        }
        check_url("url", &self.url)?;
        match self.referrer.as_deref() {
            Some(r) if !r.is_empty() => check_url("referrer", r),
            _ => Ok(()),
        }
    }
}

impl Engine {
    /// Tie a visitor id to a client (a form submitted with it). A malformed
    /// id or a client without email/phone ties nothing.
    pub async fn tie_visitor(
        &self,
        tenant: &str,
        visitor_id: &str,
        client: &ClientRef,
    ) -> Result<()> {
        if !is_visitor_id(visitor_id) || client_ref_keys(client).is_empty() {
            return Ok(());
        }
        for _ in 0..=self.config.max_retries {
            let old = self
                .load_kind::<Visitor>(tenant, Kind::Visitor, visitor_id)
                .await?;
            let (last_seen_at, version) = match &old {
                Some((v, ver)) => (v.last_seen_at, *ver),
                None => (self.now(), 0),
            };
            let v = Visitor {
                client: Some(client.clone()),
                last_seen_at,
            };
            let mut d = doc(tenant, Kind::Visitor, visitor_id, version + 1, None, &v);
            d.expires_at = Some((last_seen_at + Duration::days(KNOWN_TTL_DAYS)).timestamp());
            match self
                .ports
                .store
                .transact(vec![put(d, crate::store::cond_for(version))])
                .await
            {
                Ok(()) => return Ok(()),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::Conflict("visitor changed concurrently".into()))
    }

    /// A page view of `tenant`'s site (the site key already resolved): at
    /// most one read and one write, and for a tied visitor the events.
    pub async fn record_visit(&self, tenant: &str, beacon: &Beacon) -> Result<VisitOutcome> {
        beacon.check()?;
        let now = self.now();
        let old = self
            .load_kind::<Visitor>(tenant, Kind::Visitor, &beacon.visitor_id)
            .await?;
        let mut outcome = VisitOutcome::default();
        let (client, previous, version) = match old {
            Some((v, ver)) => (v.client, Some(v.last_seen_at), ver),
            None => (None, None, 0),
        };
        if let Some(client) = &client {
            let returned =
                previous.is_some_and(|p| now - p > Duration::minutes(RETURN_AFTER_MINUTES));
            let mut types = vec!["site_visit"];
            if returned {
                types.push("client_returned");
            }
            for t in types {
                let mut data = json!({"url": beacon.url, "visitor_id": beacon.visitor_id});
                if let Some(r) = beacon.referrer.as_deref().filter(|r| !r.is_empty()) {
                    data["referrer"] = json!(r);
                }
                if t == "client_returned" {
                    data["previous_visit_at"] = json!(previous);
                }
                self.submit_event(
                    tenant,
                    EventBody {
                        event_type: t.to_string(),
                        item_id: None,
                        client: Some(client.clone()),
                        data: Some(data),
                        idempotency_key: None,
                        occurred_at: Some(now),
                    },
                )
                .await?;
                outcome.raised.push(t.to_string());
            }
        }
        let fresh = previous.is_some_and(|p| now - p < Duration::seconds(COALESCE_SECONDS));
        if !fresh {
            let ttl = if client.is_some() {
                KNOWN_TTL_DAYS
            } else {
                ANONYMOUS_TTL_DAYS
            };
            let v = Visitor {
                client,
                last_seen_at: now,
            };
            let mut d = doc(
                tenant,
                Kind::Visitor,
                &beacon.visitor_id,
                version + 1,
                None,
                &v,
            );
            d.expires_at = Some((now + Duration::days(ttl)).timestamp());
            // A lost race means another beacon of the visitor just wrote: fine.
            match self
                .ports
                .store
                .transact(vec![put(d, crate::store::cond_for(version))])
                .await
            {
                Ok(()) | Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(outcome)
    }
}
