//! The dead letter of outbound messages (issue #15): `POST
//! /v1/outbox/{id}/retry` queues a `failed` email or SMS again.

use axum::extract::State;
use crm_core::model::Outbound;

use crate::auth::AdminTenant;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path};
use crate::schemas;
use crate::state::AppState;

/// Queue a failed outbound message again (admin key).
///
/// The message becomes `queued` with a fresh budget of attempts and is
/// handed to its provider after this call; its `last_error` stays until an
/// attempt succeeds or fails anew.
#[utoipa::path(
    post,
    path = "/v1/outbox/{id}/retry",
    tag = "work",
    params(("id" = String, Path, description = "Outbound message id (`GET /v1/outbox`)", example = "email-1")),
    responses(
        (status = 200, description = "The message, queued again", body = schemas::Outbound),
        (status = 403, description = "A member key: this needs an admin key (role admin)", body = ErrorBody),
        (status = 404, description = "No such message", body = ErrorBody),
        (status = 409, description = "The message is not `failed`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn retry_outbound(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(id): Path<String>,
) -> Result<Json<Outbound>, ApiError> {
    Ok(Json(state.engine.retry_outbound(&tenant, &id).await?))
}
