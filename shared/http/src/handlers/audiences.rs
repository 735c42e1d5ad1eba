//! Advertising audiences the `add_to_audience` / `remove_from_audience`
//! robots fill (as the default adapter of the audiences port keeps them):
//! the audiences with their member counts, and each one's members by hashed
//! contacts only.

use axum::extract::State;
use crm_core::audiences::{Audience, AudienceMember};
use crm_core::engine::PageRequest;
use serde::Serialize;

use crate::auth::Tenant;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::handlers::lists::PageQuery;
use crate::schemas;
use crate::state::AppState;

/// `GET /v1/audiences`
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AudienceList {
    /// One page of the tenant's audiences (network, audience id, member
    /// count), by network then audience id.
    pub audiences: Vec<Audience>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /v1/audiences/{network}/{audience_id}/members`
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AudienceMemberList {
    /// One page of the audience's members: item id, SHA-256 (hex) of the
    /// client's normalised phone and/or email, when added; by item id.
    pub members: Vec<AudienceMember>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The tenant's advertising audiences.
#[utoipa::path(
    get,
    path = "/v1/audiences",
    tag = "work",
    params(
        ("limit" = Option<usize>, Query, description = "Page size, 1..=200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "`{\"audiences\": [{network, audience_id, member_count, created_at, updated_at}], \"next_cursor\"}`", body = schemas::AudienceList),
        (status = 400, description = "`limit` out of range or a cursor this server did not give", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_audiences(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Query(q): Query<PageQuery>,
) -> Result<Json<AudienceList>, ApiError> {
    let page = state
        .engine
        .audiences_page(&tenant, &PageRequest::new(q.limit, q.cursor))
        .await?;
    Ok(Json(AudienceList {
        audiences: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// The members of one audience: hashed identifiers only, never the raw
/// phone or email.
#[utoipa::path(
    get,
    path = "/v1/audiences/{network}/{audience_id}/members",
    tag = "work",
    params(
        ("network" = String, Path, description = "`facebook`, `google`, `vk`, `yandex` or `tiktok`"),
        ("audience_id" = String, Path, description = "The audience's id in that network"),
        ("limit" = Option<usize>, Query, description = "Page size, 1..=200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "`{\"members\": [{network, audience_id, item_id, phone_sha256?, email_sha256?, added_at, run_id}], \"next_cursor\"}`", body = schemas::AudienceMemberList),
        (status = 400, description = "`limit` out of range or a cursor this server did not give", body = ErrorBody),
        (status = 404, description = "No such audience in this tenant", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_audience_members(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path((network, audience_id)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
) -> Result<Json<AudienceMemberList>, ApiError> {
    let page = state
        .engine
        .audience_members_page(
            &tenant,
            &network,
            &audience_id,
            &PageRequest::new(q.limit, q.cursor),
        )
        .await?;
    Ok(Json(AudienceMemberList {
        members: page.items,
        next_cursor: page.next_cursor,
    }))
}
