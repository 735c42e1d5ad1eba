//! `GET /v1/me`: who the presented key is, so that an interface can hide
//! what the key's role may not do.

use axum::extract::State;
use crm_core::api_keys::ADMIN_TENANT;
use serde::Serialize;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::schemas;
use crate::state::AppState;

/// `GET /v1/me`
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Me {
    /// The key's tenant (`_admin` for the operator's admin key).
    pub tenant: String,
    /// `admin` (may change automation and the directory), `member` (works
    /// with items, tasks and events), or `operator` (the admin key: moves
    /// the manual clock, belongs to no tenant).
    pub role: String,
    /// The key's label (`configured key` for keys given at start).
    pub label: String,
}

/// The label shown for the operator's admin key.
const OPERATOR_LABEL: &str = "admin key";

/// Who the presented key is: its tenant, role and label.
#[utoipa::path(
    get,
    path = "/v1/me",
    tag = "meta",
    responses(
        (status = 200, description = "`{\"tenant\", \"role\": \"admin\"|\"member\"|\"operator\", \"label\"}`", body = schemas::Me),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn me(_state: State<AppState>, caller: Caller) -> Result<Json<Me>, ApiError> {
    Ok(Json(match caller {
        Caller::Tenant(key) => Me {
            tenant: key.tenant,
            role: key.role.as_str().to_string(),
            label: key.label,
        },
        Caller::Admin => Me {
            tenant: ADMIN_TENANT.to_string(),
            role: "operator".to_string(),
            label: OPERATOR_LABEL.to_string(),
        },
    }))
}
