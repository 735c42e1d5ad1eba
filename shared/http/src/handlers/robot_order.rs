//! `PUT /v1/pipelines/{id}/stages/{stage_id}/robot-order`: the order of a
//! stage's robots (admin keys only).

use axum::extract::State;
use crm_core::robots::Robot;
use serde::{Deserialize, Serialize};

use crate::auth::AdminTenant;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path};
use crate::schemas;
use crate::state::AppState;

/// The request body: every robot of the stage, in the new order.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RobotOrder {
    /// The ids of the stage's robots, each once, first to last.
    pub robot_ids: Vec<String>,
}

/// The stage's robots in their new order.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ReorderedRobots {
    /// The robots, first to last.
    pub robots: Vec<Robot>,
}

/// Reorder the robots of a stage. `after_previous` chains and the outputs a
/// robot may use follow the new order from the next visit on.
#[utoipa::path(
    put,
    path = "/v1/pipelines/{id}/stages/{stage_id}/robot-order",
    tag = "robots",
    params(
        ("id" = String, Path, description = "Pipeline id", example = "deals"),
        ("stage_id" = String, Path, description = "Stage id", example = "new"),
    ),
    request_body(
        content = schemas::RobotOrder,
        content_type = "application/json",
        description = "`{\"robot_ids\": [...]}`: exactly the stage's robots",
        example = json!({"robot_ids": ["robot-2", "robot-1"]})
    ),
    responses(
        (status = 200, description = "`{\"robots\": [...]}` in the new order", body = schemas::ReorderedRobots),
        (status = 403, description = "A member key: this needs an admin key (role admin)", body = ErrorBody),
        (status = 404, description = "No such pipeline or stage", body = ErrorBody),
        (status = 409, description = "The robots were changed concurrently; retry", body = ErrorBody),
        (status = 422, description = "`robot_ids` is not exactly the stage's robots, or a robot would use outputs of a robot after it", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn put_robot_order(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    Path((pipeline_id, stage_id)): Path<(String, String)>,
    Json(body): Json<RobotOrder>,
) -> Result<Json<ReorderedRobots>, ApiError> {
    let robots = state
        .engine
        .reorder_robots(&tenant, &pipeline_id, &stage_id, &body.robot_ids)
        .await?;
    Ok(Json(ReorderedRobots { robots }))
}
