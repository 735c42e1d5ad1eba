//! Items, their timeline and their run log.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use crm_core::api::{ItemPatch, NewItem};
use crm_core::engine::{ItemQuery, PageRequest};
use crm_core::model::Item;
use http::header::ETAG;
use http::{HeaderValue, StatusCode};
use serde::Deserialize;

use crate::auth::Tenant;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{IfMatch, Json, Path, Query, required_param};
use crate::handlers::{created, segment};
use crate::schemas;
use crate::state::AppState;
use crate::views::{ItemList, RunList, TimelineList};

/// Adds `ETag: "<version>"` to an item response.
fn with_etag(mut response: Response, item_version: u64) -> Response {
    if let Ok(value) = HeaderValue::try_from(format!("\"{item_version}\"")) {
        response.headers_mut().insert(ETAG, value);
    }
    response
}

/// The version an item write must find, from its `If-Match` header.
async fn expected_version(
    state: &AppState,
    tenant: &str,
    id: &str,
    if_match: &IfMatch,
) -> Result<Option<u64>, ApiError> {
    let current = if if_match.is_list() {
        Some(state.engine.get_item(tenant, id).await?.version)
    } else {
        None
    };
    if_match.expected(|| current)
}

/// Default page size of `GET /v1/items`.
const DEFAULT_ITEM_PAGE: usize = 50;

/// Query of `GET /v1/items`.
#[derive(Debug, Deserialize)]
pub struct ItemListQuery {
    pipeline_id: Option<String>,
    stage_id: Option<String>,
    q: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// One page of a pipeline's items (the kanban), optionally of one stage or
/// matching a search text; `next_cursor` gives the next page.
#[utoipa::path(
    get,
    path = "/v1/items",
    tag = "items",
    params(
        ("pipeline_id" = String, Query, description = "The pipeline (required)"),
        ("stage_id" = Option<String>, Query, description = "Only items in this stage"),
        ("q" = Option<String>, Query, description = "Only items whose title or client name, phone or email contains this text (case-insensitive)"),
        ("limit" = Option<usize>, Query, description = "Page size, 1..=200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "`{\"items\": [...], \"next_cursor\"}`", body = schemas::ItemList),
        (status = 400, description = "`pipeline_id` missing, `limit` out of range or a cursor this server did not give", body = ErrorBody),
        (status = 404, description = "No such pipeline", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_items(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Query(q): Query<ItemListQuery>,
) -> Result<Json<ItemList>, ApiError> {
    let query = ItemQuery {
        pipeline_id: required_param(q.pipeline_id, "pipeline_id")?,
        stage_id: q.stage_id.filter(|s| !s.is_empty()),
        q: q.q,
        limit: q.limit.unwrap_or(DEFAULT_ITEM_PAGE),
        cursor: q.cursor.filter(|c| !c.is_empty()),
    };
    let page = state.engine.list_items(&tenant, query).await?;
    Ok(Json(ItemList {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// Create an item (deal, lead, …) in a pipeline.
#[utoipa::path(
    post,
    path = "/v1/items",
    tag = "items",
    request_body(
        content = schemas::NewItem,
        content_type = "application/json",
        description = "`{\"entity_type\"?, \"pipeline_id\", \"stage_id\"?, \"title\", \"amount\"?, \"currency\"?, \"responsible_id\", \"client\"?, \"is_repeat\"?, \"fields\"?}`",
        example = json!({
            "entity_type": "deal", "pipeline_id": "deals", "title": "10 chairs",
            "amount": 15000, "currency": "RUB", "responsible_id": "u-anna",
            "client": {"name": "ACME", "phone": "+70000000000", "email": "buyer@acme.test"},
            "is_repeat": false, "fields": {}
        })
    ),
    responses(
        (status = 201, description = "The created item with `id`, `version` and `stage_id`", body = schemas::Item,
            headers(
                ("Location" = String, description = "URL of the item"),
                ("ETag" = String, description = "The item's version, quoted"),
            )),
        (status = 422, description = "Unknown pipeline, stage, user or field, a field of the wrong type, a `user` field naming no user of the tenant, a field value over 16 KiB, an item over 256 KiB, or an invalid `client.email` (one `@`, no spaces or control characters) or `client.phone` (digits, spaces, `+-()`)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_item(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Json(body): Json<NewItem>,
) -> Result<Response, ApiError> {
    let item = state.engine.create_item(&tenant, body).await?;
    let location = format!("/v1/items/{}", segment(&item.id));
    let version = item.version;
    Ok(with_etag(created(location, item), version))
}

/// Read an item.
#[utoipa::path(
    get,
    path = "/v1/items/{id}",
    tag = "items",
    params(("id" = String, Path, description = "Item id")),
    responses(
        (status = 200, description = "The item (with its `version`)", body = schemas::Item,
            headers(("ETag" = String, description = "The item's version, quoted"))),
        (status = 404, description = "No such item", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_item(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let item: Item = state.engine.get_item(&tenant, &id).await?;
    let version = item.version;
    Ok(with_etag(Json(item).into_response(), version))
}

/// Change an item; only the keys present change (`null` in `fields` removes
/// a field). A stage change starts the new stage's robots. A change is a
/// change of value, by field type: `5.0` over `5` in a number field (or
/// `amount`), or the same instant in a datetime field, is no change — nothing
/// is written and no `field_changed` trigger fires. `user` fields name users
/// of the tenant.
#[utoipa::path(
    patch,
    path = "/v1/items/{id}",
    tag = "items",
    params(
        ("id" = String, Path, description = "Item id"),
        ("If-Match" = Option<String>, Header,
            description = "RFC 9110: `\"3\"` (or `3`) requires version 3, `*` any version, a list any of its members; a weak tag `W/\"3\"` never matches; no match → 409"),
    ),
    request_body(
        content = schemas::ItemPatch,
        content_type = "application/json",
        description = "Any of `stage_id`, `title`, `amount`, `currency`, `responsible_id`, `client`, `is_repeat`, `fields`, `author_id`",
        example = json!({"stage_id": "won", "fields": {"budget": 20000}})
    ),
    responses(
        (status = 200, description = "The changed item", body = schemas::Item,
            headers(("ETag" = String, description = "The item's new version, quoted"))),
        (status = 400, description = "Malformed body or If-Match header", body = ErrorBody),
        (status = 404, description = "No such item", body = ErrorBody),
        (status = 409, description = "If-Match does not match the current version (stale, or only weak tags), or a concurrent change", body = ErrorBody),
        (status = 422, description = "Unknown stage, user or field (a `user` field's value must be a user of the tenant), a field value over 16 KiB, an item over 256 KiB, or an invalid `client.email` / `client.phone`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn patch_item(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    if_match: IfMatch,
    Json(patch): Json<ItemPatch>,
) -> Result<Response, ApiError> {
    let if_match = expected_version(&state, &tenant, &id, &if_match).await?;
    let item = state
        .engine
        .patch_item(&tenant, &id, patch, if_match)
        .await?;
    let version = item.version;
    Ok(with_etag(Json(item).into_response(), version))
}

/// Delete an item (its pending robot runs are cancelled).
#[utoipa::path(
    delete,
    path = "/v1/items/{id}",
    tag = "items",
    params(
        ("id" = String, Path, description = "Item id"),
        ("If-Match" = Option<String>, Header,
            description = "RFC 9110: `\"3\"` (or `3`) requires version 3, `*` any version, a list any of its members; a weak tag `W/\"3\"` never matches; no match → 409"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed If-Match header", body = ErrorBody),
        (status = 404, description = "No such item", body = ErrorBody),
        (status = 409, description = "If-Match does not match the current version (stale, or only weak tags), or a concurrent change", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn delete_item(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    if_match: IfMatch,
) -> Result<StatusCode, ApiError> {
    let if_match = expected_version(&state, &tenant, &id, &if_match).await?;
    state.engine.delete_item(&tenant, &id, if_match).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Query of the timeline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineQuery {
    kind: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// The item's timeline, in the order things happened (entries written
/// together keep the order in which they were made).
#[utoipa::path(
    get,
    path = "/v1/items/{id}/timeline",
    tag = "items",
    params(
        ("id" = String, Path, description = "Item id"),
        ("kind" = Option<String>, Query,
            description = "Only entries of these kinds, comma-separated (e.g. `info` or `info,comment`); all when absent. Kinds: `created`, `stage_changed`, `fields_changed`, `responsible_changed`, `info`, `comment`, `task_created`, `task_status`, `task_completed`, `activity_planned`, `activity_completed`, `email_sent`, `sms_sent`, `deleted`, `call_sent`, `messenger_sent`; another value → 400. Other query parameters → 400."),
        ("limit" = Option<usize>, Query, description = "Page size, 1..=200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "`{\"entries\": [{\"at\", \"kind\", \"author_id\", \"text\", …}], \"next_cursor\"}`, oldest first", body = schemas::TimelineList),
        (status = 400, description = "Unknown `kind`, an unknown query parameter, `limit` out of range or a cursor this server did not give", body = ErrorBody),
        (status = 404, description = "No such item", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn timeline(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    Query(q): Query<TimelineQuery>,
) -> Result<Json<TimelineList>, ApiError> {
    let page = state
        .engine
        .timeline_page(
            &tenant,
            &id,
            q.kind.as_deref(),
            &PageRequest::new(q.limit, q.cursor),
        )
        .await?;
    Ok(Json(TimelineList {
        entries: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// Every robot run and trigger evaluation of the item.
#[utoipa::path(
    get,
    path = "/v1/items/{id}/runs",
    tag = "items",
    params(
        ("id" = String, Path, description = "Item id"),
        ("limit" = Option<usize>, Query, description = "Page size, 1..=200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "`{\"runs\": [{\"kind\", \"robot_id\"|\"trigger_id\", \"stage_id\", \"visit\", \"status\", \"reason\", \"due_at\", \"finished_at\", \"outputs\"}], \"next_cursor\"}`, oldest first (the robots of a visit in stage order)", body = schemas::RunList),
        (status = 400, description = "`limit` out of range or a cursor this server did not give", body = ErrorBody),
        (status = 404, description = "No such item", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn runs(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    Query(q): Query<crate::handlers::lists::PageQuery>,
) -> Result<Json<RunList>, ApiError> {
    let page = state
        .engine
        .runs_page(&tenant, &id, &PageRequest::new(q.limit, q.cursor))
        .await?;
    Ok(Json(RunList {
        runs: page.items,
        next_cursor: page.next_cursor,
    }))
}
