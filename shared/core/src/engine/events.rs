//! Events submitted from outside (`POST /v1/events`) and their records.

use serde_json::Value;

use crate::api::EventBody;
use crate::client_index::client_ref_keys;
use crate::error::{EngineError, Result};
use crate::model::QueuedEvent;
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
                    "name the item (item_id) or the client (client.phone / client.email)",
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
        };
        self.ports.events.send(event).await?;
        Ok(event_id)
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
