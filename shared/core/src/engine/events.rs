//! Events submitted from outside (`POST /v1/events`) and their records.

use serde_json::Value;

use crate::api::EventBody;
use crate::client_index::client_ref_keys;
use crate::error::{EngineError, Result};
use crate::model::QueuedEvent;
use crate::store::hash;
use crate::triggers::TRIGGER_TYPES;

use super::Engine;

impl Engine {
    // ---------------------------------------------------------------- events

    /// Accept an external event: validate it and queue it for trigger
    /// evaluation. The event id is derived from the idempotency key, so the
    /// same key always names the same event and is applied once.
    pub async fn submit_event(&self, tenant: &str, body: EventBody) -> Result<String> {
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
            Some(k) => format!("evt-{:016x}", hash(&[tenant, k])),
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
