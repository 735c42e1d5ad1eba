//! `GET /v1/inbound-email`: whether incoming email is on and, when it is,
//! the tenant's inbound address (members and admins read it).

use axum::extract::State;

use crate::auth::Tenant;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::schemas;
use crate::state::AppState;

/// Incoming email of the key's tenant: `enabled`, and when on its inbound
/// address (made on first use, never rotated) and domain.
#[utoipa::path(
    get,
    path = "/v1/inbound-email",
    tag = "inbound-email",
    responses(
        (status = 200, description = "`{\"enabled\": bool, \"address\": \"in_…@domain\"|null, \"domain\"|null}`", body = schemas::InboundEmail),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_inbound_email(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
) -> Result<Json<crm_core::inbound::settings::InboundEmail>, ApiError> {
    Ok(Json(state.engine.inbound_email(&tenant).await?))
}
