//! Pipelines, robots and triggers. The robot and trigger endpoints are one
//! set of handlers, generated for each kind by [`automation_handlers!`] with
//! the kind's paths and documentation; each calls the engine's generic
//! operation for the kind.

use axum::extract::State;
use axum::response::Response;
use crm_core::api::{CopyBody, PipelineBody, RobotBody, TriggerBody};
use crm_core::model::Pipeline;
use crm_core::robots::{Action, Robot};
use crm_core::store::Record;
use crm_core::triggers::{Trigger, TriggerKind};
use http::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::auth::{AdminTenant, Tenant};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query, array_path};
use crate::handlers::{created, segment};
use crate::schemas;
use crate::state::AppState;
use crate::views::{RobotList, TriggerList};

/// Create or replace a pipeline and its stages.
#[utoipa::path(
    put,
    path = "/v1/pipelines/{id}",
    tag = "pipelines",
    params(("id" = String, Path, description = "Pipeline id, chosen by the client: 1 to 128 of `A-Z a-z 0-9 - _ . :` (otherwise 400 naming `id`)")),
    request_body(
        content = schemas::PipelineBody,
        content_type = "application/json",
        description = "`{\"entity_type\", \"name\", \"stages\": [{\"id\", \"name\", \"semantic\"}], \"fields\"?}`; stage order = list order",
        example = json!({
            "entity_type": "deal", "name": "Sales",
            "stages": [
                {"id": "new", "name": "New orders", "semantic": "process"},
                {"id": "won", "name": "Won", "semantic": "success"},
                {"id": "lost", "name": "Lost", "semantic": "failure"}
            ]
        })
    ),
    responses(
        (status = 403, description = "A member key: this needs an admin key (role admin)", body = ErrorBody),
        (status = 200, description = "The stored pipeline", body = schemas::Pipeline),
        (status = 422, description = "Invalid stages or fields, or a removed stage still in use", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn put_pipeline(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path(id): Path<String>,
    Json(body): Json<PipelineBody>,
) -> Result<Json<Pipeline>, ApiError> {
    Ok(Json(state.engine.put_pipeline(&tenant, &id, body).await?))
}

/// Read a pipeline.
#[utoipa::path(
    get,
    path = "/v1/pipelines/{id}",
    tag = "pipelines",
    params(("id" = String, Path, description = "Pipeline id", example = "deals")),
    responses(
        (status = 200, description = "The pipeline", body = schemas::Pipeline),
        (status = 404, description = "No such pipeline", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_pipeline(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<Pipeline>, ApiError> {
    Ok(Json(state.engine.get_pipeline(&tenant, &id).await?))
}

/// The create, list, read, replace, delete and copy handlers of one kind.
macro_rules! automation_handlers {
    (
        type = $A:ty, body = $Body:ty, list = $List:ident { $field:ident },
        schemas = ($Schema:ident, $BodySchema:ident), kind = $Kind:ty, type_field = $tf:ident,
        tag = $tag:literal, segment = $seg:literal,
        collection = $collection:literal, one = $one:literal, copy_path = $copy_path:literal,
        id = $id:literal,
        fns = ($create:ident, $list:ident, $get:ident, $update:ident, $delete:ident, $copy:ident),
        create_doc = $create_doc:literal, list_doc = $list_doc:literal,
        update_doc = $update_doc:literal, delete_doc = $delete_doc:literal,
        body_description = $body_description:literal, example = $example:tt,
        unprocessable = $unprocessable:literal, delete_unprocessable = $delete_unprocessable:literal,
        words = ($a:literal, $noun:literal, $missing:literal)
    ) => {
        #[doc = $create_doc]
        #[utoipa::path(
            post,
            path = $collection,
            tag = $tag,
            params(("id" = String, Path, description = "Pipeline id", example = "deals")),
            request_body(
                content = schemas::$BodySchema,
                content_type = "application/json",
                description = $body_description,
                example = json!($example)
            ),
            responses(
                (status = 403, description = "A member key: this needs an admin key (role admin)", body = ErrorBody),
                (status = 201, description = concat!("The created ", $noun, ", with its `id`"), body = schemas::$Schema,
                    headers(("Location" = String, description = "Its URL"))),
                (status = 404, description = "No such pipeline", body = ErrorBody),
                (status = 422, description = $unprocessable, body = ErrorBody),
                (status = 409, description = "Other writers kept changing the pipeline's automation during every retry; retry later", body = ErrorBody),
            ),
            security(("bearer" = []))
        )]
        pub async fn $create(
            State(state): State<AppState>,
            AdminTenant(tenant): AdminTenant,
            Path(pipeline_id): Path<String>,
            Json(body): Json<$Body>,
        ) -> Result<Response, ApiError> {
            settings_shape::<$Kind>(&body.$tf, body.settings.as_ref())?;
            let made = state.engine.create::<$A>(&tenant, &pipeline_id, body).await?;
            Ok(created(location($seg, &pipeline_id, made.id()), made))
        }

        #[doc = $list_doc]
        #[utoipa::path(
            get,
            path = $collection,
            tag = $tag,
            params(
                ("id" = String, Path, description = "Pipeline id", example = "deals"),
                ("limit" = Option<usize>, Query, description = "Page size, 1..=200 (default 50)"),
                ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
            ),
            responses(
                (status = 200, description = concat!("`{\"", $seg, "\": [...], \"next_cursor\"}` in pipeline order"), body = schemas::$List),
                (status = 400, description = "`limit` out of range or a cursor this server did not give", body = ErrorBody),
                (status = 404, description = "No such pipeline", body = ErrorBody),
            ),
            security(("bearer" = []))
        )]
        pub async fn $list(
            State(state): State<AppState>,
            Tenant(tenant): Tenant,
            Path(pipeline_id): Path<String>,
            Query(q): Query<crate::handlers::lists::PageQuery>,
        ) -> Result<Json<$List>, ApiError> {
            let page = state
                .engine
                .automation_page::<$A>(
                    &tenant,
                    &pipeline_id,
                    &crm_core::engine::PageRequest::new(q.limit, q.cursor),
                )
                .await?;
            Ok(Json($List {
                $field: page.items,
                next_cursor: page.next_cursor,
            }))
        }

        #[doc = concat!("Read one ", $noun, ".")]
        #[utoipa::path(
            get,
            path = $one,
            tag = $tag,
            params(
                ("id" = String, Path, description = "Pipeline id", example = "deals"),
                ($id = String, Path, description = concat!($a, " id")),
            ),
            responses(
                (status = 200, description = concat!("The ", $noun), body = schemas::$Schema),
                (status = 404, description = $missing, body = ErrorBody),
            ),
            security(("bearer" = []))
        )]
        pub async fn $get(
            State(state): State<AppState>,
            Tenant(tenant): Tenant,
            Path((pipeline_id, id)): Path<(String, String)>,
        ) -> Result<Json<$A>, ApiError> {
            Ok(Json(state.engine.get_one::<$A>(&tenant, &pipeline_id, &id).await?))
        }

        #[doc = $update_doc]
        #[utoipa::path(
            put,
            path = $one,
            tag = $tag,
            params(
                ("id" = String, Path, description = "Pipeline id", example = "deals"),
                ($id = String, Path, description = concat!($a, " id")),
            ),
            request_body(content = schemas::$BodySchema, content_type = "application/json",
                description = concat!("Same shape as for creating a ", $noun)),
            responses(
                (status = 403, description = "A member key: this needs an admin key (role admin)", body = ErrorBody),
                (status = 200, description = concat!("The updated ", $noun), body = schemas::$Schema),
                (status = 404, description = $missing, body = ErrorBody),
                (status = 422, description = $unprocessable, body = ErrorBody),
                (status = 409, description = "Other writers kept changing the pipeline's automation during every retry; retry later", body = ErrorBody),
            ),
            security(("bearer" = []))
        )]
        pub async fn $update(
            State(state): State<AppState>,
            AdminTenant(tenant): AdminTenant,
            Path((pipeline_id, id)): Path<(String, String)>,
            Json(body): Json<$Body>,
        ) -> Result<Json<$A>, ApiError> {
            settings_shape::<$Kind>(&body.$tf, body.settings.as_ref())?;
            let updated = state.engine.update::<$A>(&tenant, &pipeline_id, &id, body).await?;
            Ok(Json(updated))
        }

        #[doc = $delete_doc]
        #[utoipa::path(
            delete,
            path = $one,
            tag = $tag,
            params(
                ("id" = String, Path, description = "Pipeline id", example = "deals"),
                ($id = String, Path, description = concat!($a, " id")),
            ),
            responses(
                (status = 403, description = "A member key: this needs an admin key (role admin)", body = ErrorBody),
                (status = 204, description = "Deleted"),
                (status = 404, description = $missing, body = ErrorBody),
                (status = 422, description = $delete_unprocessable, body = ErrorBody),
                (status = 409, description = "Other writers kept changing the pipeline's automation during every retry; retry later", body = ErrorBody),
            ),
            security(("bearer" = []))
        )]
        pub async fn $delete(
            State(state): State<AppState>,
            AdminTenant(tenant): AdminTenant,
            Path((pipeline_id, id)): Path<(String, String)>,
        ) -> Result<StatusCode, ApiError> {
            state.engine.delete::<$A>(&tenant, &pipeline_id, &id).await?;
            Ok(StatusCode::NO_CONTENT)
        }

        #[doc = concat!("Copy a ", $noun, " to another stage of the same pipeline.")]
        #[utoipa::path(
            post,
            path = $copy_path,
            tag = $tag,
            params(
                ("id" = String, Path, description = "Pipeline id", example = "deals"),
                ($id = String, Path, description = concat!($a, " id")),
            ),
            request_body(content = schemas::CopyBody, content_type = "application/json",
                description = "`{\"stage_id\"}`", example = json!({"stage_id": "won"})),
            responses(
                (status = 403, description = "A member key: this needs an admin key (role admin)", body = ErrorBody),
                (status = 201, description = concat!("The new ", $noun), body = schemas::$Schema,
                    headers(("Location" = String, description = "URL of the copy"))),
                (status = 404, description = $missing, body = ErrorBody),
                (status = 422, description = $unprocessable, body = ErrorBody),
                (status = 409, description = "Other writers kept changing the pipeline's automation during every retry; retry later", body = ErrorBody),
            ),
            security(("bearer" = []))
        )]
        pub async fn $copy(
            State(state): State<AppState>,
            AdminTenant(tenant): AdminTenant,
            Path((pipeline_id, id)): Path<(String, String)>,
            Json(body): Json<CopyBody>,
        ) -> Result<Response, ApiError> {
            let made = state.engine.copy::<$A>(&tenant, &pipeline_id, &id, body).await?;
            Ok(created(location($seg, &pipeline_id, made.id()), made))
        }
    };
}

/// `settings` is an object (or absent or `null`) all the way down, as the
/// document says: the engine reads it into the type's settings struct, where
/// serde would also take an array, field by field. A body that does not read
/// at all is left to the engine's 400.
fn settings_shape<K: DeserializeOwned + Serialize>(
    type_name: &str,
    settings: Option<&Value>,
) -> Result<(), ApiError> {
    let Some(settings) = settings.filter(|s| !s.is_null()) else {
        return Ok(());
    };
    let sent = json!({"type": type_name, "settings": settings});
    let Ok(kind) = serde_json::from_value::<K>(sent.clone()) else {
        return Ok(());
    };
    let Ok(read) = serde_json::to_value(&kind) else {
        return Ok(());
    };
    match array_path(&sent, &read, "") {
        Some(path) => Err(ApiError::bad_request(
            path,
            "must be a JSON object, not an array",
        )),
        None => Ok(()),
    }
}

/// The URL of a robot or trigger.
fn location(kind_segment: &str, pipeline_id: &str, id: &str) -> String {
    format!(
        "/v1/pipelines/{}/{kind_segment}/{}",
        segment(pipeline_id),
        segment(id)
    )
}

automation_handlers! {
    type = Robot, body = RobotBody, list = RobotList { robots },
    schemas = (Robot, RobotBody), kind = Action, type_field = robot_type,
    tag = "robots", segment = "robots",
    collection = "/v1/pipelines/{id}/robots",
    one = "/v1/pipelines/{id}/robots/{robot_id}",
    copy_path = "/v1/pipelines/{id}/robots/{robot_id}/copy",
    id = "robot_id",
    fns = (create_robot, list_robots, get_robot, update_robot, delete_robot, copy_robot),
    create_doc = "Add a robot to a stage of the pipeline.",
    list_doc = "List the pipeline's robots.",
    update_doc = "Replace a robot's settings (it keeps its id and position). The change applies to visits that start afterwards: runs already planned keep the settings they were planned with (each run record carries a snapshot, `robot`). A robot whose output (`{{robot.<id>.<output>}}`) another robot of its stage uses cannot be given another type, moved to another stage, or lose the output: 422 naming the dependent robots in the details (`robots.<id>`).",
    delete_doc = "Delete a robot. Its pending runs are cancelled (recorded as `cancelled`, reason \"cancelled: robot deleted\"; their timers deleted); a robot that ran \"after the previous\" waits for the one before instead. A robot whose output another robot of its stage uses cannot be deleted (422 naming them).",
    body_description = "`{\"stage_id\", \"type\", \"name\"?, \"delay\"?, \"respect_working_hours\"?, \"condition\"?, \"after_previous\"?, \"settings\"}`; `type` and its `settings` are described by `GET /v1/catalogue` (a JSON Schema per type)",
    example = {
        "stage_id": "new", "type": "notify_supervisor", "name": "Escalate",
        "delay": {"mode": "after", "amount": 1, "unit": "days"},
        "respect_working_hours": false,
        "condition": {"field": "amount", "op": "gt", "value": 10000},
        "after_previous": false,
        "settings": {"text": "{{responsible.name}} did not move {{title}} ({{amount}})"}
    },
    unprocessable = "Unknown stage, type, setting, user, placeholder or robot output, a placeholder syntax error (`{{title`), or a template with more than 1,000 placeholders or over 64 KiB; `details` names the setting; or other robots use an output this change would remove (details name them: `robots.<id>`)",
    delete_unprocessable = "Other robots of the stage use this one's outputs (details name them: `robots.<id>`)",
    words = ("Robot", "robot", "No such pipeline or robot")
}

automation_handlers! {
    type = Trigger, body = TriggerBody, list = TriggerList { triggers },
    schemas = (Trigger, TriggerBody), kind = TriggerKind, type_field = trigger_type,
    tag = "triggers", segment = "triggers",
    collection = "/v1/pipelines/{id}/triggers",
    one = "/v1/pipelines/{id}/triggers/{trigger_id}",
    copy_path = "/v1/pipelines/{id}/triggers/{trigger_id}/copy",
    id = "trigger_id",
    fns = (create_trigger, list_triggers, get_trigger, update_trigger, delete_trigger, copy_trigger),
    create_doc = "Add a trigger to a stage of the pipeline.",
    list_doc = "List the pipeline's triggers.",
    update_doc = "Replace a trigger's settings (it keeps its id and position).",
    delete_doc = "Delete a trigger.",
    body_description = "`{\"stage_id\", \"type\", \"name\"?, \"condition\"?, \"execute_as\"?, \"allow_backwards\"?, \"settings\"?}`; `type` and its `settings` are described by `GET /v1/catalogue` (a JSON Schema per type)",
    example = {
        "stage_id": "presentation", "type": "task_status", "name": "Design ready",
        "condition": null, "execute_as": "u-boss", "allow_backwards": false,
        "settings": {"status": "completed",
            "task_filter": {"field": "title", "op": "contains", "value": "design project"}}
    },
    unprocessable = "Unknown stage, type, setting or user, or a placeholder syntax error in a setting",
    delete_unprocessable = "Not used for triggers",
    words = ("Trigger", "trigger", "No such pipeline or trigger")
}
