//! Stripe events that pay an item: `checkout.session.completed` (unless its
//! `payment_status` is `unpaid`), `payment_intent.succeeded` and
//! `invoice.paid`, whose object's `metadata.crm_item_id` names the item.
//! They raise `invoice_paid` with `data.amount` (major units), `data.currency`
//! (upper case), `data.provider` (`stripe`), `data.provider_event_id` and
//! `data.provider_event_type`; the event's idempotency key is Stripe's event
//! id, so a re-delivered webhook fires once. Other event types, events
//! without `metadata.crm_item_id` and items unknown to the tenant are
//! acknowledged and ignored.

use serde_json::{Value, json};

use super::provider::PaymentProvider;
use super::stripe_signature::{SignatureError, verify_stripe_signature};
use crate::api::EventBody;
use crate::engine::Engine;
use crate::error::Result;

/// The Stripe event types that pay an item.
pub const PAYING_EVENTS: &[&str] = &[
    "checkout.session.completed",
    "payment_intent.succeeded",
    "invoice.paid",
];

/// Currencies Stripe counts in whole units (no minor unit).
const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

/// What a webhook did.
#[derive(Debug, Clone, PartialEq)]
pub enum PaymentOutcome {
    /// `invoice_paid` was raised (again, for a re-delivery: it fires once).
    Raised { event_id: String, item_id: String },
    /// Acknowledged, nothing done (the reason).
    Ignored(String),
}

/// Why a webhook is refused (nothing done).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StripePaid {
    /// Unknown endpoint id, or a signature that does not hold.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Signed, but not a Stripe event.
    #[error("bad payload: {0}")]
    BadPayload(String),
}

fn amount_of(event_type: &str, object: &Value) -> Option<i64> {
    let keys: &[&str] = match event_type {
        "checkout.session.completed" => &["amount_total"],
        "payment_intent.succeeded" => &["amount_received", "amount"],
        _ => &["amount_paid", "total"],
    };
    keys.iter()
        .find_map(|k| object.get(*k).and_then(Value::as_i64))
}

impl Engine {
    /// A Stripe webhook to endpoint `endpoint_id`: `Ok(Err(_))` when refused.
    pub async fn receive_stripe_webhook(
        &self,
        endpoint_id: &str,
        signature: Option<&str>,
        payload: &[u8],
    ) -> Result<std::result::Result<PaymentOutcome, StripePaid>> {
        let Some((tenant, secret)) = self
            .payment_endpoint(PaymentProvider::Stripe, endpoint_id)
            .await?
        else {
            return Ok(Err(StripePaid::Forbidden("unknown endpoint".into())));
        };
        let header = signature.ok_or(SignatureError::Malformed);
        if let Err(e) =
            header.and_then(|h| verify_stripe_signature(h, payload, &secret, self.now()))
        {
            tracing::info!(tenant = %tenant, error = %e, "stripe webhook refused");
            return Ok(Err(StripePaid::Forbidden(e.to_string())));
        }
        let Ok(event) = serde_json::from_slice::<Value>(payload) else {
            return Ok(Err(StripePaid::BadPayload("the body is not JSON".into())));
        };
        let (Some(id), Some(event_type)) = (
            event.get("id").and_then(Value::as_str),
            event.get("type").and_then(Value::as_str),
        ) else {
            return Ok(Err(StripePaid::BadPayload(
                "an event has an id and a type".into(),
            )));
        };
        if !PAYING_EVENTS.contains(&event_type) {
            return Ok(Ok(PaymentOutcome::Ignored(format!(
                "event type '{event_type}' is not a payment"
            ))));
        }
        let object = &event["data"]["object"];
        if event_type == "checkout.session.completed"
            && object.get("payment_status").and_then(Value::as_str) == Some("unpaid")
        {
            return Ok(Ok(PaymentOutcome::Ignored("the session is unpaid".into())));
        }
        let Some(item_id) = object["metadata"]["crm_item_id"].as_str() else {
            return Ok(Ok(PaymentOutcome::Ignored(
                "no metadata.crm_item_id".into(),
            )));
        };
        if id.is_empty() || id.len() > 255 || self.load_item(&tenant, item_id).await?.is_none() {
            return Ok(Ok(PaymentOutcome::Ignored(format!(
                "unknown item '{item_id}'"
            ))));
        }
        let currency = object
            .get("currency")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_lowercase();
        let amount = amount_of(event_type, object).map(|minor| {
            if ZERO_DECIMAL.contains(&currency.as_str()) {
                minor as f64
            } else {
                minor as f64 / 100.0
            }
        });
        let event_id = self
            .submit_event(
                &tenant,
                EventBody {
                    event_type: "invoice_paid".into(),
                    item_id: Some(item_id.to_string()),
                    client: None,
                    data: Some(json!({
                        "amount": amount,
                        "currency": currency.to_uppercase(),
                        "provider": "stripe",
                        "provider_event_id": id,
                        "provider_event_type": event_type,
                    })),
                    idempotency_key: Some(format!("stripe:{id}")),
                    occurred_at: None,
                },
            )
            .await?;
        Ok(Ok(PaymentOutcome::Raised {
            event_id,
            item_id: item_id.to_string(),
        }))
    }
}
