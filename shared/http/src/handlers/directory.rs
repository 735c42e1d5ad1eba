//! Departments and users.

use axum::extract::State;
use crm_core::api::{DepartmentBody, DirectoryBody, UserBody};
use crm_core::engine::Directory;
use crm_core::model::{Department, User};

use crate::auth::{AdminTenant, Tenant};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path};
use crate::schemas;
use crate::state::AppState;

/// Create or replace a department.
#[utoipa::path(
    put,
    path = "/v1/departments/{id}",
    tag = "directory",
    params(("id" = String, Path, description = "Department id, chosen by the client: 1 to 128 of `A-Z a-z 0-9 - _ . :` (otherwise 400 naming `id`)", example = "sales")),
    request_body(
        content = schemas::DepartmentBody,
        content_type = "application/json",
        description = "`{\"name\", \"head_id\"?, \"parent_id\"?}`",
        example = json!({"name": "Sales", "head_id": "u-boss", "parent_id": null})
    ),
    responses(
        (status = 403, description = "A member key: this needs an admin key (role admin)", body = ErrorBody),
        (status = 200, description = "The stored department", body = schemas::Department),
        (status = 422, description = "Unknown head or parent, or a cycle", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn put_department(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
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
    params(("id" = String, Path, description = "User id, chosen by the client: 1 to 128 of `A-Z a-z 0-9 - _ . :` (otherwise 400 naming `id`)", example = "u-anna")),
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
        (status = 403, description = "A member key: this needs an admin key (role admin)", body = ErrorBody),
        (status = 200, description = "The stored user", body = schemas::User),
        (status = 422, description = "Unknown department or time zone, invalid working hours (`end` may be `24:00`), or an invalid `email` (one `@`, no spaces or control characters) or `phone` (digits, spaces, `+-()`)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn put_user(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
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

/// Write departments and users together, all or nothing.
///
/// References may name records of the same request or of the store, in any
/// order: a head may be a user of the request, a user's department may be a
/// department of the request. Everything is validated first (422 listing
/// every problem, e.g. `users[1].department_id`, a cycle of `parent_id`s),
/// then written in one store transaction: all or nothing. At most 50
/// records per request (the store's transaction limit; a user who changes
/// department counts twice): a larger request is 422 naming the limit, and
/// a larger directory is sent in parts, parents and heads first.
#[utoipa::path(
    put,
    path = "/v1/directory",
    tag = "directory",
    request_body(
        content = schemas::DirectoryBody,
        content_type = "application/json",
        description = "`{\"departments\": [{\"id\", \"name\", \"head_id\"?, \"parent_id\"?}], \"users\": [{\"id\", \"name\", …as PUT /v1/users/{id}}]}`; at most 50 records",
        example = json!({
            "departments": [
                {"id": "sales", "name": "Sales", "head_id": "u-boss"},
                {"id": "sales-east", "name": "Sales East", "head_id": "u-eva", "parent_id": "sales"}
            ],
            "users": [
                {"id": "u-boss", "name": "Boris", "time_zone": "Europe/Moscow"},
                {"id": "u-eva", "name": "Eva", "department_id": "sales-east", "time_zone": "Europe/Berlin"}
            ]
        })
    ),
    responses(
        (status = 403, description = "A member key: this needs an admin key (role admin)", body = ErrorBody),
        (status = 200, description = "`{\"departments\": [...], \"users\": [...]}`: the stored records", body = schemas::Directory),
        (status = 409, description = "A record of the request changed meanwhile; nothing was written", body = ErrorBody),
        (status = 422, description = "Unknown references, a cycle of parents, a duplicate id, an invalid time zone or working hours, or more than 50 records; nothing was written", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn put_directory(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Json(body): Json<DirectoryBody>,
) -> Result<Json<Directory>, ApiError> {
    Ok(Json(state.engine.put_directory(&tenant, body).await?))
}
