//! Pipelines, robots and triggers.

use axum::extract::State;
use axum::response::Response;
use crm_core::api::{CopyBody, PipelineBody, RobotBody, TriggerBody};
use crm_core::model::Pipeline;
use crm_core::robots::Robot;
use crm_core::triggers::Trigger;
use http::StatusCode;

use crate::auth::Tenant;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path};
use crate::handlers::{created, segment};
use crate::state::AppState;
use crate::views::{RobotList, TriggerList};

/// Create or replace a pipeline and its stages.
#[utoipa::path(
    put,
    path = "/v1/pipelines/{id}",
    tag = "pipelines",
    params(("id" = String, Path, description = "Pipeline id, chosen by the client")),
    request_body(
        content = Object,
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
        (status = 200, description = "The stored pipeline", body = Object),
        (status = 422, description = "Invalid stages or fields, or a removed stage still in use", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn put_pipeline(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
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
    params(("id" = String, Path, description = "Pipeline id")),
    responses(
        (status = 200, description = "The pipeline", body = Object),
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

// ---------------------------------------------------------------- robots

/// Add a robot to a stage of the pipeline.
#[utoipa::path(
    post,
    path = "/v1/pipelines/{id}/robots",
    tag = "robots",
    params(("id" = String, Path, description = "Pipeline id")),
    request_body(
        content = Object,
        content_type = "application/json",
        description = "`{\"stage_id\", \"type\", \"name\"?, \"delay\"?, \"respect_working_hours\"?, \"condition\"?, \"after_previous\"?, \"settings\"}`",
        example = json!({
            "stage_id": "new", "type": "notify_supervisor", "name": "Escalate",
            "delay": {"mode": "after", "amount": 1, "unit": "days"},
            "respect_working_hours": false,
            "condition": {"field": "amount", "op": "gt", "value": 10000},
            "after_previous": false,
            "settings": {"text": "{{responsible.name}} did not move {{title}} ({{amount}})"}
        })
    ),
    responses(
        (status = 201, description = "The created robot, with its `id`", body = Object,
            headers(("Location" = String, description = "URL of the robot"))),
        (status = 404, description = "No such pipeline", body = ErrorBody),
        (status = 422, description = "Unknown stage, type, setting, user, placeholder or robot output", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_robot(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(pipeline_id): Path<String>,
    Json(body): Json<RobotBody>,
) -> Result<Response, ApiError> {
    let robot = state
        .engine
        .create_robot(&tenant, &pipeline_id, body)
        .await?;
    let location = format!(
        "/v1/pipelines/{}/robots/{}",
        segment(&pipeline_id),
        segment(&robot.id)
    );
    Ok(created(location, robot))
}

/// List the pipeline's robots.
#[utoipa::path(
    get,
    path = "/v1/pipelines/{id}/robots",
    tag = "robots",
    params(("id" = String, Path, description = "Pipeline id")),
    responses(
        (status = 200, description = "`{\"robots\": [...]}`", body = RobotList),
        (status = 404, description = "No such pipeline", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_robots(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(pipeline_id): Path<String>,
) -> Result<Json<RobotList>, ApiError> {
    let robots = state.engine.list_robots(&tenant, &pipeline_id).await?;
    Ok(Json(RobotList { robots }))
}

/// Read one robot.
#[utoipa::path(
    get,
    path = "/v1/pipelines/{id}/robots/{robot_id}",
    tag = "robots",
    params(
        ("id" = String, Path, description = "Pipeline id"),
        ("robot_id" = String, Path, description = "Robot id"),
    ),
    responses(
        (status = 200, description = "The robot", body = Object),
        (status = 404, description = "No such pipeline or robot", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_robot(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path((pipeline_id, robot_id)): Path<(String, String)>,
) -> Result<Json<Robot>, ApiError> {
    Ok(Json(
        state
            .engine
            .get_robot(&tenant, &pipeline_id, &robot_id)
            .await?,
    ))
}

/// Replace a robot's settings. The change applies to visits that start
/// afterwards: runs already planned keep the settings they were planned with
/// (each run record carries a snapshot, `robot`). A robot whose output
/// (`{{robot.<id>.<output>}}`) another robot of its stage uses cannot be
/// given another type, moved to another stage, or lose the output: 422
/// naming the dependent robots in the details (`robots.<id>`).
#[utoipa::path(
    put,
    path = "/v1/pipelines/{id}/robots/{robot_id}",
    tag = "robots",
    params(
        ("id" = String, Path, description = "Pipeline id"),
        ("robot_id" = String, Path, description = "Robot id"),
    ),
    request_body(content = Object, content_type = "application/json",
        description = "Same shape as for creating a robot"),
    responses(
        (status = 200, description = "The updated robot", body = Object),
        (status = 404, description = "No such pipeline or robot", body = ErrorBody),
        (status = 422, description = "Unknown stage, type, setting, user, placeholder or robot output; or other robots use an output this change would remove (details name them: `robots.<id>`)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn update_robot(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path((pipeline_id, robot_id)): Path<(String, String)>,
    Json(body): Json<RobotBody>,
) -> Result<Json<Robot>, ApiError> {
    Ok(Json(
        state
            .engine
            .update_robot(&tenant, &pipeline_id, &robot_id, body)
            .await?,
    ))
}

/// Delete a robot. Its pending runs are cancelled (recorded as `cancelled`,
/// reason "cancelled: robot deleted"; their timers deleted); a robot that
/// ran "after the previous" waits for the one before instead. A robot whose
/// output another robot of its stage uses cannot be deleted (422 naming them).
#[utoipa::path(
    delete,
    path = "/v1/pipelines/{id}/robots/{robot_id}",
    tag = "robots",
    params(
        ("id" = String, Path, description = "Pipeline id"),
        ("robot_id" = String, Path, description = "Robot id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such pipeline or robot", body = ErrorBody),
        (status = 422, description = "Other robots of the stage use this one's outputs (details name them: `robots.<id>`)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn delete_robot(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path((pipeline_id, robot_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .engine
        .delete_robot(&tenant, &pipeline_id, &robot_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Copy a robot to another stage of the same pipeline.
#[utoipa::path(
    post,
    path = "/v1/pipelines/{id}/robots/{robot_id}/copy",
    tag = "robots",
    params(
        ("id" = String, Path, description = "Pipeline id"),
        ("robot_id" = String, Path, description = "Robot id"),
    ),
    request_body(content = Object, content_type = "application/json",
        description = "`{\"stage_id\"}`", example = json!({"stage_id": "won"})),
    responses(
        (status = 201, description = "The new robot", body = Object,
            headers(("Location" = String, description = "URL of the new robot"))),
        (status = 404, description = "No such pipeline or robot", body = ErrorBody),
        (status = 422, description = "Unknown stage, or the copy would reference outputs unavailable there", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn copy_robot(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path((pipeline_id, robot_id)): Path<(String, String)>,
    Json(body): Json<CopyBody>,
) -> Result<Response, ApiError> {
    let robot = state
        .engine
        .copy_robot(&tenant, &pipeline_id, &robot_id, body)
        .await?;
    let location = format!(
        "/v1/pipelines/{}/robots/{}",
        segment(&pipeline_id),
        segment(&robot.id)
    );
    Ok(created(location, robot))
}

// ---------------------------------------------------------------- triggers

/// Add a trigger to a stage of the pipeline.
#[utoipa::path(
    post,
    path = "/v1/pipelines/{id}/triggers",
    tag = "triggers",
    params(("id" = String, Path, description = "Pipeline id")),
    request_body(
        content = Object,
        content_type = "application/json",
        description = "`{\"stage_id\", \"type\", \"name\"?, \"condition\"?, \"execute_as\"?, \"allow_backwards\"?, \"settings\"?}`",
        example = json!({
            "stage_id": "presentation", "type": "task_status", "name": "Design ready",
            "condition": null, "execute_as": "u-boss", "allow_backwards": false,
            "settings": {"status": "completed",
                "task_filter": {"field": "title", "op": "contains", "value": "design project"}}
        })
    ),
    responses(
        (status = 201, description = "The created trigger, with its `id`", body = Object,
            headers(("Location" = String, description = "URL of the trigger"))),
        (status = 404, description = "No such pipeline", body = ErrorBody),
        (status = 422, description = "Unknown stage, type, setting or user", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_trigger(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(pipeline_id): Path<String>,
    Json(body): Json<TriggerBody>,
) -> Result<Response, ApiError> {
    let trigger = state
        .engine
        .create_trigger(&tenant, &pipeline_id, body)
        .await?;
    let location = format!(
        "/v1/pipelines/{}/triggers/{}",
        segment(&pipeline_id),
        segment(&trigger.id)
    );
    Ok(created(location, trigger))
}

/// List the pipeline's triggers.
#[utoipa::path(
    get,
    path = "/v1/pipelines/{id}/triggers",
    tag = "triggers",
    params(("id" = String, Path, description = "Pipeline id")),
    responses(
        (status = 200, description = "`{\"triggers\": [...]}`", body = TriggerList),
        (status = 404, description = "No such pipeline", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_triggers(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(pipeline_id): Path<String>,
) -> Result<Json<TriggerList>, ApiError> {
    let triggers = state.engine.list_triggers(&tenant, &pipeline_id).await?;
    Ok(Json(TriggerList { triggers }))
}

/// Read one trigger.
#[utoipa::path(
    get,
    path = "/v1/pipelines/{id}/triggers/{trigger_id}",
    tag = "triggers",
    params(
        ("id" = String, Path, description = "Pipeline id"),
        ("trigger_id" = String, Path, description = "Trigger id"),
    ),
    responses(
        (status = 200, description = "The trigger", body = Object),
        (status = 404, description = "No such pipeline or trigger", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_trigger(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path((pipeline_id, trigger_id)): Path<(String, String)>,
) -> Result<Json<Trigger>, ApiError> {
    Ok(Json(
        state
            .engine
            .get_trigger(&tenant, &pipeline_id, &trigger_id)
            .await?,
    ))
}

/// Replace a trigger's settings.
#[utoipa::path(
    put,
    path = "/v1/pipelines/{id}/triggers/{trigger_id}",
    tag = "triggers",
    params(
        ("id" = String, Path, description = "Pipeline id"),
        ("trigger_id" = String, Path, description = "Trigger id"),
    ),
    request_body(content = Object, content_type = "application/json",
        description = "Same shape as for creating a trigger"),
    responses(
        (status = 200, description = "The updated trigger", body = Object),
        (status = 404, description = "No such pipeline or trigger", body = ErrorBody),
        (status = 422, description = "Unknown stage, type, setting or user", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn update_trigger(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path((pipeline_id, trigger_id)): Path<(String, String)>,
    Json(body): Json<TriggerBody>,
) -> Result<Json<Trigger>, ApiError> {
    Ok(Json(
        state
            .engine
            .update_trigger(&tenant, &pipeline_id, &trigger_id, body)
            .await?,
    ))
}

/// Delete a trigger.
#[utoipa::path(
    delete,
    path = "/v1/pipelines/{id}/triggers/{trigger_id}",
    tag = "triggers",
    params(
        ("id" = String, Path, description = "Pipeline id"),
        ("trigger_id" = String, Path, description = "Trigger id"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such pipeline or trigger", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn delete_trigger(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path((pipeline_id, trigger_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .engine
        .delete_trigger(&tenant, &pipeline_id, &trigger_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Copy a trigger to another stage of the same pipeline.
#[utoipa::path(
    post,
    path = "/v1/pipelines/{id}/triggers/{trigger_id}/copy",
    tag = "triggers",
    params(
        ("id" = String, Path, description = "Pipeline id"),
        ("trigger_id" = String, Path, description = "Trigger id"),
    ),
    request_body(content = Object, content_type = "application/json",
        description = "`{\"stage_id\"}`", example = json!({"stage_id": "won"})),
    responses(
        (status = 201, description = "The new trigger", body = Object,
            headers(("Location" = String, description = "URL of the new trigger"))),
        (status = 404, description = "No such pipeline or trigger", body = ErrorBody),
        (status = 422, description = "Unknown stage", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn copy_trigger(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path((pipeline_id, trigger_id)): Path<(String, String)>,
    Json(body): Json<CopyBody>,
) -> Result<Response, ApiError> {
    let trigger = state
        .engine
        .copy_trigger(&tenant, &pipeline_id, &trigger_id, body)
        .await?;
    let location = format!(
        "/v1/pipelines/{}/triggers/{}",
        segment(&pipeline_id),
        segment(&trigger.id)
    );
    Ok(created(location, trigger))
}
