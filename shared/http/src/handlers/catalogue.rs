//! The catalogue of robot and trigger types, generated from the engine's
//! catalogues (not written by hand): a web form for any type is built from it.

use std::sync::OnceLock;

use axum::extract::State;

use crate::auth::Tenant;
use crate::error::ApiError;
use crate::error::ErrorBody;
use crate::extract::Json;
use crate::state::AppState;
use crate::views::Catalogue;

/// Every robot and trigger type: its settings' JSON Schema, defaults,
/// template settings, outputs and a one-line description; then the
/// tenant's application robot types (`app.<code>`, group `apps`).
#[utoipa::path(
    get,
    path = "/v1/catalogue",
    tag = "meta",
    responses(
        (status = 200, description = "`{\"robots\": [...], \"triggers\": [...]}`", body = crate::schemas::Catalogue),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn catalogue(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
) -> Result<Json<Catalogue>, ApiError> {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    let mut c = CATALOGUE
        .get_or_init(|| crm_core::catalogue::catalogue().into())
        .clone();
    // The tenant's application robot types (group `apps`), after the built-in ones.
    let apps = state.engine.all_robot_types(&tenant).await?;
    c.robots
        .extend(apps.iter().map(crate::handlers::robot_types::app_entry));
    Ok(Json(c))
}
