//! Events submitted from outside (`POST /v1/events`) and their records.

use serde_json::Value;

use crate::api::EventBody;
use crate::client_index::client_ref_keys;
use crate::error::{EngineError, Result};
use crate::model::{Channel, Outbound, QueuedEvent};
use crate::robots::message_client::NETWORKS;
use crate::triggers::TRIGGER_TYPES;

use super::Engine;

impl Engine {
    // ---------------------------------------------------------------- events

    /// Accept an external event: validate it and queue it for trigger
    /// evaluation. The event id is derived from the idempotency key, so the
    /// same key always names the same event and is applied once.
    pub async fn submit_event(&self, tenant: &str, body: EventBody) -> Result<String> {
        body.check_contacts()?;
        if !TRIGGER_TYPES.contains(&body.event_type.as_str()) {
            return Err(EngineError::invalid(
                "type",
                format!("unknown event type '{}'", body.event_type),
            ));
        }
        if matches!(
            body.event_type.as_str(),
            "field_changed" | "responsible_changed" | "task_status"
        ) {
            return Err(EngineError::invalid(
                "type",
                format!(
                    "'{}' events are raised by the engine itself",
                    body.event_type
                ),
            ));
        }
        let mut body = body;
        if body.item_id.is_none()
            && body
                .client
                .as_ref()
                .is_none_or(|c| client_ref_keys(c).is_empty())
        {
            body.item_id = self.item_of_outbound(tenant, body.data.as_ref()).await?;
        }
        if body.event_type == "incoming_message"
            && let Some(c) = body.data.as_ref().and_then(|d| d.get("channel"))
            && !c.as_str().is_some_and(|c| NETWORKS.contains(&c))
        {
            return Err(EngineError::invalid(
                "data.channel",
                format!("must be one of {}", NETWORKS.join(", ")),
            ));
        }
        match (&body.item_id, &body.client) {
            (Some(item), _) => {
                if self.load_item(tenant, item).await?.is_none() {
                    return Err(EngineError::invalid(
                        "item_id",
                        format!("unknown item '{item}'"),
                    ));
                }
            }
            (None, Some(c)) if !client_ref_keys(c).is_empty() => {}
            _ => {
                return Err(EngineError::invalid(
                    "item_id",
                    "name the item (item_id), the client (client.phone / client.email) or a call or message of a robot (data.call_id / data.message_id)",
                ));
            }
        }
        let data = body.data.unwrap_or(Value::Null);
        if !(data.is_null() || data.is_object()) {
            return Err(EngineError::bad("data", "must be an object"));
        }
        let event_id = match &body.idempotency_key {
            Some(k) if k.trim().is_empty() => {
                return Err(EngineError::invalid("idempotency_key", "must not be empty"));
            }
            Some(k) => idempotent_event_id(tenant, k),
            None => self.ports.ids.next_id("evt"),
        };
        let event = QueuedEvent {
            tenant: tenant.to_string(),
            event_id: event_id.clone(),
            event_type: body.event_type,
            item_id: body.item_id,
            client: body.client,
            data,
            occurred_at: body.occurred_at.unwrap_or_else(|| self.now()),
            chain: None,
            fan_out: None,
        };
        self.ports.events.send(event).await?;
        Ok(event_id)
    }

    /// The item of the call or message an event answers (`data.call_id` or
    /// `data.message_id`: the id of an outbound record of a `call_client`,
    /// `message_client`, `sms_client`… run). None when the event names
    /// neither; an unknown id → 422 naming it.
    async fn item_of_outbound(&self, tenant: &str, data: Option<&Value>) -> Result<Option<String>> {
        for key in ["call_id", "message_id"] {
            let Some(v) = data.and_then(|d| d.get(key)) else {
                continue;
            };
            let field = format!("data.{key}");
            let Some(id) = v.as_str() else {
                return Err(EngineError::invalid(field, "must be a string"));
            };
            let found = match self.load::<Outbound>(tenant, id).await? {
                Some((m, _)) if key == "message_id" || m.channel == Channel::Call => m.item_id,
                _ => None,
            };
            return match found {
                Some(item) => Ok(Some(item)),
                None => Err(EngineError::invalid(
                    field,
                    format!("unknown {} '{id}'", &key[..key.len() - 3]),
                )),
            };
        }
        Ok(None)
    }

    /// What became of a processed event. Engine-raised events
    /// (`field_changed`, …) are recorded too. 404 until the event is processed.
    pub async fn get_event(&self, tenant: &str, id: &str) -> Result<crate::model::EventRecord> {
        Ok(self.must(tenant, "event", id).await?.0)
    }
}

/// The event id of an idempotency key: `evt-` and 128 bits of
/// SHA-256(tenant, key) in hex. A cryptographic hash, so that no client can
/// make two keys (or two tenants' keys) collide on purpose.
pub(crate) fn idempotent_event_id(tenant: &str, key: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(tenant.as_bytes());
    h.update([0u8]);
    h.update(key.as_bytes());
    let digest = h.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("evt-{hex}")
}

#[cfg(test)]
mod tests {
    use super::idempotent_event_id;

    #[test]
    fn idempotency_keys_map_to_stable_ids_per_tenant() {
        let a = idempotent_event_id("acme", "call-1");
        assert_eq!(a, idempotent_event_id("acme", "call-1"));
        assert_ne!(a, idempotent_event_id("acme", "call-2"));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(
            idempotent_event_id("ab", "c"),
            idempotent_event_id("a", "bc")
        );
        assert_eq!(a.len(), 4 + 32);
    }
}
