//! Bitrix24 inbound-webhook credentials (issue #16): `POST /v1/rest-webhooks`
//! makes one (its secret is answered once), `GET` pages them (no secrets),
//! `DELETE /v1/rest-webhooks/{id}` revokes one. All three need an admin key
//! of the tenant. What the credentials call is in [`crate::bitrix`].

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use crm_core::bitrix::RestWebhook;
use crm_core::engine::PageRequest;
use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::created;
use crate::auth::AdminTenant;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::handlers::lists::PageQuery;
use crate::schemas;
use crate::state::AppState;

/// `POST /v1/rest-webhooks`
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestWebhookBody {
    /// Our user the calls act as (a user of the directory).
    pub user_id: String,
    /// What the credential is for (1–100 characters).
    pub label: String,
}

/// A credential as listed (never its secret).
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RestWebhookView {
    /// Its number: the `{user_id}` of `/rest/{user_id}/{secret}/{method}`.
    pub id: String,
    /// Our user the calls act as.
    pub user_id: String,
    /// What the credential is for.
    pub label: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was revoked (calls then answer 401 `invalid_token`).
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<RestWebhook> for RestWebhookView {
    fn from(w: RestWebhook) -> Self {
        RestWebhookView {
            id: w.id.to_string(),
            user_id: w.user_id,
            label: w.label,
            created_at: w.created_at,
            revoked_at: w.revoked_at,
        }
    }
}

/// A credential just made: its secret and URL, shown this once.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RestWebhookCreated {
    /// The credential.
    #[serde(flatten)]
    pub webhook: RestWebhookView,
    /// The secret (only its hash is kept).
    pub secret: String,
    /// `/rest/<id>/<secret>/`: put the server's origin before it and a method
    /// name after it.
    pub url: String,
}

/// A page of credentials.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RestWebhookList {
    /// Oldest first, revoked ones too.
    pub webhooks: Vec<RestWebhookView>,
    /// The `cursor` of the next page (none: this is the last).
    pub next_cursor: Option<String>,
}

/// Make an inbound-webhook credential for the Bitrix24 REST adapter.
#[utoipa::path(
    post,
    path = "/v1/rest-webhooks",
    tag = "bitrix",
    request_body(
        content = schemas::RestWebhookBody,
        content_type = "application/json",
        description = "`{\"user_id\", \"label\"}`: the user the calls act as and what the credential is for",
        example = json!({"user_id": "u-anna", "label": "site forms"})
    ),
    responses(
        (status = 201, description = "Made; `secret` and `url` are shown this once", body = schemas::RestWebhookCreated),
        (status = 403, description = "A member key: this needs an admin key (role admin)", body = ErrorBody),
        (status = 422, description = "Unknown user or a bad label (`details` names it)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_rest_webhook(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Json(body): Json<RestWebhookBody>,
) -> Result<Response, ApiError> {
    let made = state
        .engine
        .create_rest_webhook(&tenant, &body.user_id, &body.label)
        .await?;
    let url = made.record.url(&made.secret);
    let location = format!("/v1/rest-webhooks/{}", made.record.id);
    Ok(created(
        location,
        RestWebhookCreated {
            webhook: made.record.into(),
            secret: made.secret,
            url,
        },
    ))
}

/// The tenant's inbound-webhook credentials (no secrets).
#[utoipa::path(
    get,
    path = "/v1/rest-webhooks",
    tag = "bitrix",
    params(
        ("limit" = Option<usize>, Query, description = "Page size, 1..=200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "`{\"webhooks\": [...], \"next_cursor\"}`", body = schemas::RestWebhookList),
        (status = 400, description = "`limit` out of range or a cursor this server did not give", body = ErrorBody),
        (status = 403, description = "A member key: this needs an admin key (role admin)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_rest_webhooks(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Query(q): Query<PageQuery>,
) -> Result<Json<RestWebhookList>, ApiError> {
    let page = state
        .engine
        .rest_webhooks_page(&tenant, &PageRequest::new(q.limit, q.cursor))
        .await?;
    Ok(Json(RestWebhookList {
        webhooks: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Revoke a credential: its calls answer 401 `invalid_token` from now on.
#[utoipa::path(
    delete,
    path = "/v1/rest-webhooks/{id}",
    tag = "bitrix",
    params(("id" = String, Path, description = "The credential's number")),
    responses(
        (status = 204, description = "Revoked (also when it already was)"),
        (status = 403, description = "A member key: this needs an admin key (role admin)", body = ErrorBody),
        (status = 404, description = "No such credential in this tenant", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn revoke_rest_webhook(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.engine.revoke_rest_webhook(&tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
