//! Custom robot types of applications (issue #14): `/v1/robot-types`
//! registers them (admin key), `POST /v1/robot-events/{token}` is the
//! application's answer for one run (no key: the event token is the
//! credential). The engine's side is `crm_core::apps`.

use axum::extract::State;
use axum::response::Response;
use crm_core::apps::event::{AnsweredRun, RobotEventAnswer};
use crm_core::apps::robot_type::{RobotTypeBody, RobotTypeDef};
use crm_core::apps::schema::PropType;
use crm_core::catalogue::Group;
use crm_core::engine::PageRequest;
use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{created, segment};
use crate::auth::{AdminTenant, Tenant};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::handlers::lists::PageQuery;
use crate::schemas;
use crate::state::AppState;
use crate::views::CatalogueEntry;

/// A page of robot types.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RobotTypeList {
    /// By code.
    pub robot_types: Vec<RobotTypeDef>,
    /// The `cursor` of the next page (none: this is the last).
    pub next_cursor: Option<String>,
}

/// The catalogue entry of a registered type (group `apps`): a form for it
/// is built from its settings schema like for a built-in type.
pub fn app_entry(def: &RobotTypeDef) -> CatalogueEntry {
    let settings = def.settings();
    CatalogueEntry {
        name: def.type_name(),
        description: if def.description.is_empty() {
            def.name.clone()
        } else {
            format!("{} — {}", def.name, def.description)
        },
        settings_schema: settings.to_json_schema(),
        defaults: settings
            .properties
            .iter()
            .filter_map(|(k, p)| Some((k.clone(), p.default.clone()?)))
            .collect(),
        templates: settings
            .properties
            .iter()
            .filter(|(_, p)| p.prop_type == PropType::String)
            .map(|(k, _)| k.clone())
            .collect(),
        outputs: def.returns().properties.keys().cloned().collect(),
        group: Group::Apps,
        raised_by: None,
    }
}

/// Register an application's robot type.
#[utoipa::path(
    post,
    path = "/v1/robot-types",
    tag = "robot-types",
    request_body(
        content = schemas::RobotTypeBody,
        content_type = "application/json",
        description = "`{\"code\", \"name\", \"description\"?, \"handler_url\", \"settings_schema\"?, \"return_schema\"?, \"timeout_seconds\"?}`. The schemas are a JSON Schema subset: an object with `properties` of type string, number, integer or boolean (each with `title`, `description`, `default` optional) and `required`; at most 50 properties. `timeout_seconds`: 60 to 604800 (default 3600). Robots of the type have `type` = `app.<code>`.",
        example = json!({
            "code": "erp_order", "name": "Create the ERP order",
            "handler_url": "https://erp.example.com/crm-robot",
            "settings_schema": {"type": "object", "properties": {"note": {"type": "string", "title": "Note"}}, "required": ["note"]},
            "return_schema": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]},
            "timeout_seconds": 3600
        })
    ),
    responses(
        (status = 201, description = "Registered", body = schemas::RobotTypeDef,
            headers(("Location" = String, description = "Its URL"))),
        (status = 403, description = "A member key: this needs an admin key (role admin)", body = ErrorBody),
        (status = 409, description = "The code is taken (PUT replaces a type)", body = ErrorBody),
        (status = 422, description = "A bad code, name, handler URL (private or metadata destinations are refused), schema (`details` names the part, e.g. `settings_schema.properties.x.type`) or timeout; or 50 types already", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_robot_type(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Json(body): Json<RobotTypeBody>,
) -> Result<Response, ApiError> {
    let def = state.engine.create_robot_type(&tenant, body).await?;
    Ok(created(
        format!("/v1/robot-types/{}", segment(&def.code)),
        def,
    ))
}

/// The tenant's registered robot types, by code.
#[utoipa::path(
    get,
    path = "/v1/robot-types",
    tag = "robot-types",
    params(
        ("limit" = Option<usize>, Query, description = "Page size, 1..=200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "`{\"robot_types\": [...], \"next_cursor\"}`", body = schemas::RobotTypeList),
        (status = 400, description = "`limit` out of range or a cursor this server did not give", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_robot_types(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Query(q): Query<PageQuery>,
) -> Result<Json<RobotTypeList>, ApiError> {
    let page = state
        .engine
        .robot_types_page(&tenant, &PageRequest::new(q.limit, q.cursor))
        .await?;
    Ok(Json(RobotTypeList {
        robot_types: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// One registered robot type.
#[utoipa::path(
    get,
    path = "/v1/robot-types/{code}",
    tag = "robot-types",
    params(("code" = String, Path, description = "The type's code")),
    responses(
        (status = 200, description = "The type", body = schemas::RobotTypeDef),
        (status = 404, description = "No such type in this tenant", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_robot_type(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(code): Path<String>,
) -> Result<Json<RobotTypeDef>, ApiError> {
    Ok(Json(state.engine.get_robot_type(&tenant, &code).await?))
}

/// Replace a robot type (its code stays). Robots of the type keep their
/// settings; saving one again checks it against the new schema; runs that
/// start afterwards use the new handler, timeout and return schema.
#[utoipa::path(
    put,
    path = "/v1/robot-types/{code}",
    tag = "robot-types",
    params(("code" = String, Path, description = "The type's code")),
    request_body(
        content = schemas::RobotTypeBody,
        content_type = "application/json",
        description = "As for POST; `code`, if given, must be the path's",
        example = json!({"name": "Create the ERP order", "handler_url": "https://erp.example.com/crm-robot"})
    ),
    responses(
        (status = 200, description = "The type as stored", body = schemas::RobotTypeDef),
        (status = 403, description = "A member key: this needs an admin key (role admin)", body = ErrorBody),
        (status = 404, description = "No such type in this tenant", body = ErrorBody),
        (status = 409, description = "Changed by someone else at the same time; retry", body = ErrorBody),
        (status = 422, description = "A bad field (`details` names it)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn update_robot_type(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(code): Path<String>,
    Json(body): Json<RobotTypeBody>,
) -> Result<Json<RobotTypeDef>, ApiError> {
    Ok(Json(
        state.engine.update_robot_type(&tenant, &code, body).await?,
    ))
}

/// Delete a robot type. Robots of the type stay; their runs fail ("robot
/// type deleted") until the code is registered again.
#[utoipa::path(
    delete,
    path = "/v1/robot-types/{code}",
    tag = "robot-types",
    params(("code" = String, Path, description = "The type's code")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "A member key: this needs an admin key (role admin)", body = ErrorBody),
        (status = 404, description = "No such type in this tenant", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn delete_robot_type(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(code): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.engine.delete_robot_type(&tenant, &code).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The application's answer for one run of its robot: the event token it
/// was sent is the only credential (no API key). `return_values` (checked
/// against the type's return schema) become the run's outputs and the run
/// is `done`; `error` makes it `failed` with that reason. Accepted once.
#[utoipa::path(
    post,
    path = "/v1/robot-events/{token}",
    tag = "robot-types",
    params(("token" = String, Path, description = "The `event_token` of the handler's request")),
    request_body(
        content = schemas::RobotEventAnswer,
        content_type = "application/json",
        description = "`{\"return_values\": {...}, \"log_message\"?}` or `{\"error\": \"…\", \"log_message\"?}`",
        example = json!({"return_values": {"order_id": "ERP-42"}, "log_message": "created in the ERP"})
    ),
    responses(
        (status = 200, description = "The run is final: `{\"run_id\", \"status\", \"outputs\"}`", body = schemas::AnsweredRun),
        (status = 400, description = "A body that is not the answer's shape", body = ErrorBody),
        (status = 404, description = "Unknown token (the same answer for a forged one)", body = ErrorBody),
        (status = 409, description = "The run is final already: answered before, timed out, or cancelled because the item left the stage", body = ErrorBody),
        (status = 422, description = "Values that do not fit the return schema (`details`: `return_values.<prop>`), or both `return_values` and `error`", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody),
        (status = 503, description = "A backend is unavailable; retry later (the answer is accepted once)", body = ErrorBody),
    )
)]
pub async fn answer_robot_event(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Json(body): Json<RobotEventAnswer>,
) -> Result<Json<AnsweredRun>, ApiError> {
    Ok(Json(state.engine.answer_robot_event(&token, body).await?))
}
