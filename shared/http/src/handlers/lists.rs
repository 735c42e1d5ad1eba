//! The tenant-wide lists the board's pickers and pages read: users,
//! departments and chats, paged like every list (`limit` + `cursor` →
//! `next_cursor`).

use axum::extract::State;
use crm_core::engine::PageRequest;
use crm_core::model::{Chat, Department, User};
use serde::{Deserialize, Serialize};

use crate::auth::Tenant;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Query};
use crate::schemas;
use crate::state::AppState;

/// `limit` and `cursor`, the query of a list without filters.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    /// Page size (default 50, at most 200).
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    fn request(self) -> PageRequest {
        PageRequest::new(self.limit, self.cursor)
    }
}

/// `GET /v1/users`
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct UserList {
    /// One page of the tenant's users.
    pub users: Vec<User>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /v1/departments`
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DepartmentList {
    /// One page of the tenant's departments, by id.
    pub departments: Vec<Department>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /v1/chats`
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ChatList {
    /// One page of the tenant's group chats (without their messages: `GET
    /// /v1/chats/{id}` has them), by id.
    pub chats: Vec<Chat>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The tenant's users (the whole directory, for pickers and the directory
/// page): those without a department first, then by department.
#[utoipa::path(
    get,
    path = "/v1/users",
    tag = "directory",
    params(
        ("limit" = Option<usize>, Query, description = "Page size, 1..=200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "`{\"users\": [...], \"next_cursor\"}`", body = schemas::UserList),
        (status = 400, description = "`limit` out of range or a cursor this server did not give", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_users(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Query(q): Query<PageQuery>,
) -> Result<Json<UserList>, ApiError> {
    let page = state.engine.users_page(&tenant, &q.request()).await?;
    Ok(Json(UserList {
        users: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// The tenant's departments (each with its `parent_id`, to draw the tree).
#[utoipa::path(
    get,
    path = "/v1/departments",
    tag = "directory",
    params(
        ("limit" = Option<usize>, Query, description = "Page size, 1..=200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "`{\"departments\": [...], \"next_cursor\"}`", body = schemas::DepartmentList),
        (status = 400, description = "`limit` out of range or a cursor this server did not give", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_departments(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Query(q): Query<PageQuery>,
) -> Result<Json<DepartmentList>, ApiError> {
    let page = state.engine.departments_page(&tenant, &q.request()).await?;
    Ok(Json(DepartmentList {
        departments: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// The tenant's group chats (made by the `create_group_chat` robot).
#[utoipa::path(
    get,
    path = "/v1/chats",
    tag = "work",
    params(
        ("limit" = Option<usize>, Query, description = "Page size, 1..=200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "`{\"chats\": [...], \"next_cursor\"}`", body = schemas::ChatList),
        (status = 400, description = "`limit` out of range or a cursor this server did not give", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_chats(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Query(q): Query<PageQuery>,
) -> Result<Json<ChatList>, ApiError> {
    let page = state.engine.chats_page(&tenant, &q.request()).await?;
    Ok(Json(ChatList {
        chats: page.items,
        next_cursor: page.next_cursor,
    }))
}
