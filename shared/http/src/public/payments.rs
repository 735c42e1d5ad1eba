//! `POST /v1/webhooks/payments/{provider}/{endpoint_id}`: a payment
//! provider's webhook (no API key). Only `stripe` is understood (another
//! provider → 404). The endpoint id (from `PUT /v1/payment-providers/stripe`)
//! names the tenant; the `Stripe-Signature` header must hold for the raw
//! body with the tenant's secret, signed within 5 minutes. See
//! [`crm_core::payments`] for what raises `invoice_paid`.
//!
//! Answers: 200 `{"received": true, "outcome": "raised"|"ignored", "reason"}`;
//! 403 for an unknown endpoint or a forged, stale or missing signature (no
//! side effects; Stripe retries non-2xx answers); 400 for a signed body that
//! is not a Stripe event; 429 over 300 a minute per endpoint.

use axum::body::Bytes;
use axum::extract::State;
use crm_core::payments::{PaymentOutcome, PaymentProvider, StripePaid};
use serde::Serialize;

use super::forms::Req;
use super::{limit, rate_limit};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path};
use crate::state::AppState;

/// A Stripe event (documentation): what is read of it.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct StripeEvent {
    /// Stripe's event id (`evt_…`): an event raises `invoice_paid` once.
    pub id: String,
    /// `checkout.session.completed`, `payment_intent.succeeded` or `invoice.paid` (others are ignored).
    #[serde(rename = "type")]
    pub event_type: String,
    /// `{"object": {...}}`: the object's `metadata.crm_item_id` names the item; `amount_total`
    /// / `amount_received` / `amount_paid` (minor units) and `currency` are passed on.
    pub data: serde_json::Value,
}

/// The answer to an accepted webhook.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct WebhookReceived {
    /// Always true.
    pub received: bool,
    /// `raised` (`invoice_paid` raised, once per provider event id) or `ignored`.
    pub outcome: String,
    /// Why it was ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Receive a payment provider's webhook.
#[utoipa::path(
    post,
    path = "/v1/webhooks/payments/{provider}/{endpoint_id}",
    tag = "public",
    params(
        ("provider" = String, Path, description = "`stripe`"),
        ("endpoint_id" = String, Path, description = "The tenant's endpoint id (`pe_…`, from `PUT /v1/payment-providers/stripe`)"),
        ("Stripe-Signature" = String, Header, description = "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"t.body\">`"),
    ),
    request_body(content = crate::schemas::StripeEvent, description = "A Stripe event; `data.object.metadata.crm_item_id` names the item"),
    responses(
        (status = 200, description = "Received (`invoice_paid` raised or the event ignored)", body = crate::schemas::WebhookReceived),
        (status = 400, description = "Signed but not a Stripe event", body = ErrorBody),
        (status = 403, description = "Unknown endpoint, or a forged, stale or missing signature: nothing done", body = ErrorBody),
        (status = 404, description = "Unknown provider", body = ErrorBody),
        (status = 429, description = "Over 300 a minute to this endpoint", body = ErrorBody),
    ),
    security(())
)]
pub async fn receive(
    State(state): State<AppState>,
    Req(parts): Req,
    Path((provider, endpoint_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<WebhookReceived>, ApiError> {
    if PaymentProvider::parse(&provider) != Some(PaymentProvider::Stripe) {
        return Err(ApiError::not_found(format!(
            "unknown payment provider '{provider}'"
        )));
    }
    limit(
        &state,
        &format!("pay|{endpoint_id}"),
        rate_limit::PAYMENT_WEBHOOKS,
    )?;
    let signature = parts
        .headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    match state
        .engine
        .receive_stripe_webhook(&endpoint_id, signature, &body)
        .await?
    {
        Ok(PaymentOutcome::Raised { .. }) => Ok(Json(WebhookReceived {
            received: true,
            outcome: "raised".into(),
            reason: None,
        })),
        Ok(PaymentOutcome::Ignored(reason)) => Ok(Json(WebhookReceived {
            received: true,
            outcome: "ignored".into(),
            reason: Some(reason),
        })),
        Err(StripePaid::Forbidden(why)) => {
            // One answer for an unknown endpoint and a bad signature.
            tracing::debug!(%why, "payment webhook refused");
            Err(ApiError::forbidden("signature verification failed"))
        }
        Err(StripePaid::BadPayload(why)) => Err(ApiError::bad_request("body", why)),
    }
}
