//! Tracking put into an email as `email_client` composes it.

use crate::engine::Engine;
use crate::error::Result;
use crate::model::{Channel, Outbound, Pipeline};

use super::rewrite::{is_html, track_html};
use super::token::{TrackKind, TrackToken};

impl Engine {
    /// `m` with its pixel and tracked links when it is tracked: an email to
    /// the item's client, with an HTML body, in a pipeline whose
    /// `email_tracking` is on, on an engine that knows its public URL.
    /// Anything else comes back unchanged.
    pub async fn tracked(&self, pipeline: &Pipeline, mut m: Outbound) -> Result<Outbound> {
        let tracked = m.to_client && m.channel == Channel::Email && pipeline.email_tracking;
        let (Some(base), Some(item_id)) = (self.public_url(), m.item_id.clone()) else {
            return Ok(m);
        };
        if !tracked || !is_html(&m.body) {
            return Ok(m);
        }
        let key = self
            .tracking_key(&m.tenant, true)
            .await?
            .expect("a key is made when missing");
        let token = |kind, url: Option<&str>| {
            TrackToken {
                tenant: m.tenant.clone(),
                item_id: item_id.clone(),
                outbound_id: m.id.clone(),
                kind,
                url: url.map(str::to_string),
            }
            .sign(&key)
        };
        let pixel = format!("{base}/t/o/{}", token(TrackKind::Open, None));
        let body = track_html(&m.body, &pixel, |u| {
            format!("{base}/t/c/{}", token(TrackKind::Click, Some(u)))
        });
        m.body = body;
        Ok(m)
    }
}
