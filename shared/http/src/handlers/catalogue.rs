//! The catalogue of robot and trigger types, generated from the engine's
//! catalogues (not written by hand): a web form for any type is built from it.

use std::sync::OnceLock;

use crate::auth::Tenant;
use crate::error::ErrorBody;
use crate::extract::Json;
use crate::views::Catalogue;

/// Every robot and trigger type: its settings' JSON Schema, defaults,
/// template settings, outputs and a one-line description.
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
pub async fn catalogue(_tenant: Tenant) -> Json<Catalogue> {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    Json(
        CATALOGUE
            .get_or_init(|| crm_core::catalogue::catalogue().into())
            .clone(),
    )
}
