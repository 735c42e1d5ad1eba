//! Items, their timeline and their run log.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use crm_core::api::{ItemPatch, NewItem};
use crm_core::model::Item;
use http::header::ETAG;
use http::{HeaderValue, StatusCode};

use crate::auth::Tenant;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{IfMatch, Json, Path};
use crate::handlers::{created, segment};
use crate::schemas;
use crate::state::AppState;
use crate::views::{RunList, TimelineList};

/// Adds `ETag: "<version>"` to an item response.
fn with_etag(mut response: Response, item_version: u64) -> Response {
    if let Ok(value) = HeaderValue::try_from(format!("\"{item_version}\"")) {
        response.headers_mut().insert(ETAG, value);
    }
    response
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
        (status = 422, description = "Unknown pipeline, stage, user or field, or a field of the wrong type", body = ErrorBody),
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
/// a field). A stage change starts the new stage's robots.
#[utoipa::path(
    patch,
    path = "/v1/items/{id}",
    tag = "items",
    params(
        ("id" = String, Path, description = "Item id"),
        ("If-Match" = Option<String>, Header,
            description = "Expected version: `3`, `\"3\"` or `W/\"3\"`; a stale version → 409"),
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
        (status = 409, description = "Stale If-Match version or a concurrent change", body = ErrorBody),
        (status = 422, description = "Unknown stage, user or field", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn patch_item(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    IfMatch(if_match): IfMatch,
    Json(patch): Json<ItemPatch>,
) -> Result<Response, ApiError> {
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
            description = "Expected version: `3`, `\"3\"` or `W/\"3\"`; a stale version → 409"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed If-Match header", body = ErrorBody),
        (status = 404, description = "No such item", body = ErrorBody),
        (status = 409, description = "Stale If-Match version or a concurrent change", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn delete_item(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    IfMatch(if_match): IfMatch,
) -> Result<StatusCode, ApiError> {
    state.engine.delete_item(&tenant, &id, if_match).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The item's timeline.
#[utoipa::path(
    get,
    path = "/v1/items/{id}/timeline",
    tag = "items",
    params(("id" = String, Path, description = "Item id")),
    responses(
        (status = 200, description = "`{\"entries\": [{\"at\", \"kind\", \"author_id\", \"text\", …}]}`", body = schemas::TimelineList),
        (status = 404, description = "No such item", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn timeline(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<TimelineList>, ApiError> {
    let entries = state.engine.timeline(&tenant, &id).await?;
    Ok(Json(TimelineList { entries }))
}

/// Every robot run and trigger evaluation of the item.
#[utoipa::path(
    get,
    path = "/v1/items/{id}/runs",
    tag = "items",
    params(("id" = String, Path, description = "Item id")),
    responses(
        (status = 200, description = "`{\"runs\": [{\"kind\", \"robot_id\"|\"trigger_id\", \"stage_id\", \"visit\", \"status\", \"reason\", \"due_at\", \"finished_at\", \"outputs\"}]}`", body = schemas::RunList),
        (status = 404, description = "No such item", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn runs(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<RunList>, ApiError> {
    let runs = state.engine.runs(&tenant, &id).await?;
    Ok(Json(RunList { runs }))
}
