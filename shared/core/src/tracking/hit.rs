//! An open or a click coming back: verify the token, raise the trigger
//! event for the item, say where a click goes.

use serde_json::json;

use crate::api::{EventBody, MAX_ID_LEN};
use crate::engine::Engine;
use crate::error::EngineError;

use super::token::{TrackKind, TrackToken};

/// A verified open or click.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackHit {
    /// Where a click goes (the URL inside the signed token).
    pub url: Option<String>,
    /// The event raised; `None` when the item no longer exists.
    pub event_id: Option<String>,
}

/// Why a hit is refused.
#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    /// Malformed, forged, of another kind, or of a tenant without a key: the
    /// caller cannot tell which (HTTP 403, nothing happens).
    #[error("unknown tracking token")]
    Forged,
    /// The store or the event queue failed (retry later).
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl Engine {
    /// Verify `token` as a `kind` token and raise `email_read` or
    /// `email_link_clicked` (`data.url`, `data.message_id`) for its item.
    /// The idempotency key is the message (and, for a click, the URL), so
    /// an email fires `email_read` once and each link once.
    pub async fn track(&self, kind: TrackKind, token: &str) -> Result<TrackHit, TrackError> {
        let claimed = TrackToken::peek(token).map_err(|_| TrackError::Forged)?;
        if claimed.kind != kind || claimed.tenant.is_empty() || claimed.tenant.len() > MAX_ID_LEN {
            return Err(TrackError::Forged);
        }
        let key = self
            .tracking_key(&claimed.tenant, false)
            .await?
            .ok_or(TrackError::Forged)?;
        let t = TrackToken::verify(token, &key).map_err(|_| TrackError::Forged)?;
        let (event_type, data, idempotency) = match (&t.kind, &t.url) {
            (TrackKind::Click, Some(url)) => (
                "email_link_clicked",
                json!({"url": url, "message_id": t.outbound_id}),
                format!("email_link_clicked|{}|{url}", t.outbound_id),
            ),
            _ => (
                "email_read",
                json!({"message_id": t.outbound_id}),
                format!("email_read|{}", t.outbound_id),
            ),
        };
        let body = EventBody {
            event_type: event_type.to_string(),
            item_id: Some(t.item_id.clone()),
            client: None,
            data: Some(data),
            idempotency_key: Some(idempotency),
            occurred_at: None,
        };
        let event_id = match self.submit_event(&t.tenant, body).await {
            Ok(id) => Some(id),
            // The item was deleted since: nothing to move; the pixel and
            // the redirect still answer.
            Err(EngineError::Unprocessable { .. }) => {
                tracing::info!(tenant = %t.tenant, item = %t.item_id, "tracked item is gone");
                None
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(tenant = %t.tenant, item = %t.item_id, message = %t.outbound_id, event_type, "email tracked");
        Ok(TrackHit {
            url: t.url,
            event_id,
        })
    }
}
