//! Site tracker keys (issue #15): `POST /v1/site-keys` makes one, `GET`
//! pages them, `DELETE /v1/site-keys/{id}` deletes one (its beacons then
//! answer 403). Admin keys only. The tracker itself is [`crate::public::tracker`].

use axum::extract::State;
use axum::response::Response;
use crm_core::engine::PageRequest;
use crm_core::site_tracker::SiteKey;
use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::created;
use crate::auth::AdminTenant;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::handlers::lists::PageQuery;
use crate::schemas;
use crate::state::AppState;

/// `POST /v1/site-keys`
#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteKeyBody {
    /// What the key is for, e.g. the site (at most 200 characters).
    #[serde(default)]
    pub label: String,
}

/// A site key and the tag to put on the site's pages.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SiteKeyView {
    /// The key.
    #[serde(flatten)]
    pub key: SiteKey,
    /// `<script src="<origin>/t/tracker.js" data-site-key="…" async></script>`
    /// without the origin (put the server's before `/t/`).
    pub script_tag: String,
}

impl From<SiteKey> for SiteKeyView {
    fn from(key: SiteKey) -> Self {
        SiteKeyView {
            script_tag: format!(
                "<script src=\"/t/tracker.js\" data-site-key=\"{}\" async></script>",
                key.id
            ),
            key,
        }
    }
}

/// A page of site keys.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SiteKeyList {
    /// In id order.
    pub site_keys: Vec<SiteKeyView>,
    /// The `cursor` of the next page (none: this is the last).
    pub next_cursor: Option<String>,
}

/// Make a site key for the tracker.
#[utoipa::path(
    post,
    path = "/v1/site-keys",
    tag = "tracker",
    request_body(content = schemas::SiteKeyBody, content_type = "application/json", description = "`{\"label\"}`", example = json!({"label": "shop.example"})),
    responses(
        (status = 201, description = "Made", body = schemas::SiteKeyView),
        (status = 403, description = "A member key: this needs an admin key", body = ErrorBody),
        (status = 422, description = "Label too long", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_site_key(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Json(body): Json<SiteKeyBody>,
) -> Result<Response, ApiError> {
    let key = state.engine.create_site_key(&tenant, &body.label).await?;
    Ok(created(
        format!("/v1/site-keys/{}", key.id),
        SiteKeyView::from(key),
    ))
}

/// The tenant's site keys.
#[utoipa::path(
    get,
    path = "/v1/site-keys",
    tag = "tracker",
    params(
        ("limit" = Option<usize>, Query, description = "Page size, 1..=200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "`{\"site_keys\": [...], \"next_cursor\"}`", body = schemas::SiteKeyList),
        (status = 400, description = "`limit` out of range or a bad cursor", body = ErrorBody),
        (status = 403, description = "A member key: this needs an admin key", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_site_keys(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Query(q): Query<PageQuery>,
) -> Result<Json<SiteKeyList>, ApiError> {
    let page = state
        .engine
        .site_keys_page(&tenant, &PageRequest::new(q.limit, q.cursor))
        .await?;
    Ok(Json(SiteKeyList {
        site_keys: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Delete a site key: its beacons answer 403 from now on.
#[utoipa::path(
    delete,
    path = "/v1/site-keys/{id}",
    tag = "tracker",
    params(("id" = String, Path, description = "The key (`sk_…`)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "A member key: this needs an admin key", body = ErrorBody),
        (status = 404, description = "No such key in this tenant", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn delete_site_key(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.engine.delete_site_key(&tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
