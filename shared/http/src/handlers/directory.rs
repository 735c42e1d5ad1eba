//! Departments and users.

use axum::extract::State;
use crm_core::api::{DepartmentBody, UserBody};
use crm_core::model::{Department, User};

use crate::auth::Tenant;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path};
use crate::schemas;
use crate::state::AppState;

/// Create or replace a department.
#[utoipa::path(
    put,
    path = "/v1/departments/{id}",
    tag = "directory",
    params(("id" = String, Path, description = "Department id, chosen by the client", example = "sales")),
    request_body(
        content = schemas::DepartmentBody,
        content_type = "application/json",
        description = "`{\"name\", \"head_id\"?, \"parent_id\"?}`",
        example = json!({"name": "Sales", "head_id": "u-boss", "parent_id": null})
    ),
    responses(
        (status = 200, description = "The stored department", body = schemas::Department),
        (status = 422, description = "Unknown head or parent, or a cycle", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn put_department(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    Json(body): Json<DepartmentBody>,
) -> Result<Json<Department>, ApiError> {
    Ok(Json(state.engine.put_department(&tenant, &id, body).await?))
}

/// Read a department.
#[utoipa::path(
    get,
    path = "/v1/departments/{id}",
    tag = "directory",
    params(("id" = String, Path, description = "Department id", example = "sales")),
    responses(
        (status = 200, description = "The department", body = schemas::Department),
        (status = 404, description = "No such department", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_department(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<Department>, ApiError> {
    Ok(Json(state.engine.get_department(&tenant, &id).await?))
}

/// Create or replace a user (employee).
#[utoipa::path(
    put,
    path = "/v1/users/{id}",
    tag = "directory",
    params(("id" = String, Path, description = "User id, chosen by the client", example = "u-anna")),
    request_body(
        content = schemas::UserBody,
        content_type = "application/json",
        description = "`{\"name\", \"email\"?, \"phone\"?, \"department_id\"?, \"time_zone\"?, \"working_hours\"?, \"days_off\"?}`",
        example = json!({
            "name": "Anna", "email": "anna@example.com", "phone": "+70000000001",
            "department_id": "sales", "time_zone": "Europe/Moscow",
            "working_hours": {"days": ["mon","tue","wed","thu","fri"], "start": "09:00", "end": "18:00"},
            "days_off": ["2026-12-31"]
        })
    ),
    responses(
        (status = 200, description = "The stored user", body = schemas::User),
        (status = 422, description = "Unknown department or time zone, invalid working hours", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn put_user(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    Json(body): Json<UserBody>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(state.engine.put_user(&tenant, &id, body).await?))
}

/// Read a user.
#[utoipa::path(
    get,
    path = "/v1/users/{id}",
    tag = "directory",
    params(("id" = String, Path, description = "User id", example = "u-anna")),
    responses(
        (status = 200, description = "The user", body = schemas::User),
        (status = 404, description = "No such user", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_user(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(state.engine.get_user(&tenant, &id).await?))
}
