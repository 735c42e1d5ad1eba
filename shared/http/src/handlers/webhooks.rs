//! The tenant's webhook signing secret (`call_webhook` robots sign their
//! requests with it): `GET /v1/webhook-secret` says whether one is set (never
//! the secret), `POST /v1/webhook-secret/rotate` (admin) makes a new one and
//! answers it — once: it is never shown again.

use axum::extract::State;
use chrono::{DateTime, Utc};
use crm_core::webhook::secret::{SecretStatus, generate_secret};
use serde::Serialize;

use crate::auth::{AdminTenant, Tenant};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::schemas;
use crate::state::AppState;

/// `POST /v1/webhook-secret/rotate`: the new secret, shown this once.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RotatedSecret {
    /// `whsec_` + 64 hex digits. Keep it: it is not shown again.
    pub secret: String,
    /// When it was made.
    pub rotated_at: DateTime<Utc>,
}

/// Whether the tenant has a webhook signing secret, and since when.
#[utoipa::path(
    get,
    path = "/v1/webhook-secret",
    tag = "webhooks",
    responses(
        (status = 200, description = "`{\"set\": bool, \"rotated_at\"}` (never the secret)", body = schemas::SecretStatus),
    ),
    security(("bearer" = []))
)]
pub async fn get_secret(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
) -> Result<Json<SecretStatus>, ApiError> {
    Ok(Json(state.engine.webhook_secret_status(&tenant).await?))
}

/// Make a new webhook signing secret (the old one stops signing at once)
/// and answer it; it is stored to sign requests and never shown again.
#[utoipa::path(
    post,
    path = "/v1/webhook-secret/rotate",
    tag = "webhooks",
    responses(
        (status = 200, description = "The new secret, shown once", body = schemas::RotatedSecret),
        (status = 403, description = "A member key", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn rotate_secret(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
) -> Result<Json<RotatedSecret>, ApiError> {
    let secret = generate_secret();
    let status = state
        .engine
        .rotate_webhook_secret(&tenant, secret.clone())
        .await?;
    tracing::info!(%tenant, "webhook secret rotated");
    Ok(Json(RotatedSecret {
        secret,
        rotated_at: status.rotated_at.unwrap_or_else(|| state.engine.now()),
    }))
}
