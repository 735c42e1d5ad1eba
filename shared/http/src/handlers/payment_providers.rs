//! Payment providers (issue #15): `PUT /v1/payment-providers/{provider}`
//! sets the webhook signing secret (`{"webhook_secret"}`) and answers the
//! webhook path to give the provider; `GET` shows it (never the secret);
//! `DELETE` removes it (its webhooks then answer 403). Admin keys only;
//! only `stripe` is known. The webhook itself is [`crate::public::payments`].

use axum::extract::State;
use crm_core::payments::{PaymentProvider, ProviderConfig};
use http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::auth::AdminTenant;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path};
use crate::schemas;
use crate::state::AppState;

/// `PUT /v1/payment-providers/{provider}`
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderBody {
    /// The endpoint's signing secret from the provider (Stripe: `whsec_…`).
    pub webhook_secret: String,
}

fn provider(name: &str) -> Result<PaymentProvider, ApiError> {
    PaymentProvider::parse(name)
        .ok_or_else(|| ApiError::not_found(format!("unknown payment provider '{name}'")))
}

/// Set a provider's webhook secret.
#[utoipa::path(
    put,
    path = "/v1/payment-providers/{provider}",
    tag = "payments",
    params(("provider" = String, Path, description = "`stripe`")),
    request_body(content = schemas::ProviderBody, content_type = "application/json", description = "`{\"webhook_secret\"}`", example = json!({"webhook_secret": "whsec_…"})),
    responses(
        (status = 200, description = "Set; give the provider `webhook_path` after the server's origin (kept when the secret is replaced)", body = schemas::ProviderConfig),
        (status = 403, description = "A member key: this needs an admin key", body = ErrorBody),
        (status = 404, description = "Unknown provider", body = ErrorBody),
        (status = 422, description = "Bad `webhook_secret`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn put_provider(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(name): Path<String>,
    Json(body): Json<ProviderBody>,
) -> Result<Json<ProviderConfig>, ApiError> {
    let p = provider(&name)?;
    Ok(Json(
        state
            .engine
            .put_payment_provider(&tenant, p, &body.webhook_secret)
            .await?,
    ))
}

/// A provider's configuration (never the secret).
#[utoipa::path(
    get,
    path = "/v1/payment-providers/{provider}",
    tag = "payments",
    params(("provider" = String, Path, description = "`stripe`")),
    responses(
        (status = 200, description = "The configuration", body = schemas::ProviderConfig),
        (status = 403, description = "A member key: this needs an admin key", body = ErrorBody),
        (status = 404, description = "Unknown or not configured", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_provider(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(name): Path<String>,
) -> Result<Json<ProviderConfig>, ApiError> {
    let p = provider(&name)?;
    Ok(Json(state.engine.get_payment_provider(&tenant, p).await?))
}

/// Remove a provider's configuration.
#[utoipa::path(
    delete,
    path = "/v1/payment-providers/{provider}",
    tag = "payments",
    params(("provider" = String, Path, description = "`stripe`")),
    responses(
        (status = 204, description = "Removed; its webhook URL answers 403"),
        (status = 403, description = "A member key: this needs an admin key", body = ErrorBody),
        (status = 404, description = "Unknown or not configured", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn delete_provider(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let p = provider(&name)?;
    state.engine.delete_payment_provider(&tenant, p).await?;
    Ok(StatusCode::NO_CONTENT)
}
