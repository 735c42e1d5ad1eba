//! Steering one item's robots: run a pending robot now, stop the visit's
//! automation, and the per-item badge counts of the kanban.

use std::collections::BTreeMap;

use axum::extract::{FromRequest, Request, State};
use axum::response::{IntoResponse, Response};
use crm_core::engine::{MAX_SUMMARY_IDS, RunCounts};
use crm_core::model::RunRecord;
use http::StatusCode;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::auth::{Tenant, TenantKey};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::schemas;
use crate::state::AppState;

/// `POST /v1/items/{id}/stop-automation` request body (optional).
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StopBody {
    /// Why (recorded in each cancelled run's reason and the timeline; at
    /// most 500 characters).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Longest `reason` of a stop, in characters.
pub const MAX_STOP_REASON: usize = 500;

/// `POST /v1/items/{id}/stop-automation` → 200
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Stopped {
    /// How many pending robot runs were cancelled (0 when there were none).
    pub cancelled: usize,
    /// The cancelled runs, as `GET /v1/items/{id}/runs` shows them.
    pub runs: Vec<RunRecord>,
}

/// A JSON body that may be left out: no body (no `Content-Type`, no or a
/// zero `Content-Length`) is `None`; anything else is read as [`Json`] is.
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned + Serialize,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let headers = req.headers();
        let empty = headers.get(CONTENT_TYPE).is_none()
            && headers
                .get(CONTENT_LENGTH)
                .is_none_or(|v| v.to_str().is_ok_and(|v| v.trim() == "0"));
        if empty {
            return Ok(OptionalJson(None));
        }
        let Json(value) = Json::<T>::from_request(req, state).await?;
        Ok(OptionalJson(Some(value)))
    }
}

/// Query of `GET /v1/items/run-summary`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    ids: Option<String>,
}

/// `GET /v1/items/run-summary` → 200
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RunSummary {
    /// Per item id: its current visit's robot runs that are pending (or
    /// running) and failed. Unknown ids are left out.
    pub items: BTreeMap<String, RunCounts>,
}

/// Run a pending robot now: its delay is skipped and it goes through the
/// robot queue (on the manual clock: at the next clock advance); its
/// condition is still checked when it runs, and a robot that waits for the
/// previous one ("after previous") still waits (its reason says so), then
/// runs at once. Recorded as "run now by <key label>" in the run's reason
/// and a timeline entry `info`.
#[utoipa::path(
    post,
    path = "/v1/items/{id}/runs/{run_id}/run-now",
    tag = "items",
    params(
        ("id" = String, Path, description = "Item id"),
        ("run_id" = String, Path, description = "Run id (from `GET /v1/items/{id}/runs`)"),
    ),
    responses(
        (status = 202, description = "The run record, due now and still `pending`", body = schemas::RunRecord),
        (status = 404, description = "No such item, or no such robot run of the item", body = ErrorBody),
        (status = 409, description = "The run is final (done, skipped, cancelled, failed, loop_stopped), being performed, or of a past visit; the message says its status", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn run_now(
    State(state): State<AppState>,
    key: TenantKey,
    Path((id, run_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let run = state
        .engine
        .run_now(&key.tenant, &id, &run_id, &key.label)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(run)).into_response())
}

/// Stop the automation of the item's current visit: every pending robot
/// run becomes `cancelled` ("automation stopped by <key label>[: reason]"),
/// recorded in the timeline. Idempotent (a second call cancels 0); the
/// next stage change plans robots as usual.
#[utoipa::path(
    post,
    path = "/v1/items/{id}/stop-automation",
    tag = "items",
    params(("id" = String, Path, description = "Item id")),
    request_body(
        content = Option<schemas::StopBody>,
        content_type = "application/json",
        description = "Optional: `{\"reason\"?}`",
        example = json!({"reason": "the client asked us to wait"})
    ),
    responses(
        (status = 200, description = "`{\"cancelled\": N, \"runs\": [...]}`", body = schemas::Stopped),
        (status = 404, description = "No such item", body = ErrorBody),
        (status = 409, description = "The item kept changing concurrently; retry", body = ErrorBody),
        (status = 422, description = "`reason` longer than 500 characters", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn stop_automation(
    State(state): State<AppState>,
    key: TenantKey,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<StopBody>,
) -> Result<Json<Stopped>, ApiError> {
    let body = body.unwrap_or_default();
    if body
        .reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_STOP_REASON)
    {
        return Err(ApiError::unprocessable(
            "reason",
            format!("at most {MAX_STOP_REASON} characters"),
        ));
    }
    let stopped = state
        .engine
        .stop_automation(&key.tenant, &id, &key.label, body.reason.as_deref())
        .await?;
    Ok(Json(Stopped {
        cancelled: stopped.runs.len(),
        runs: stopped.runs,
    }))
}

/// Badge counts for the kanban: per item, the robot runs of its current
/// visit that are pending and failed. Reads only; unknown ids (or another
/// tenant's) are left out.
#[utoipa::path(
    get,
    path = "/v1/items/run-summary",
    tag = "items",
    params(("ids" = String, Query, description = "Item ids, comma-separated (1 to 100)", example = "i-1,i-2")),
    responses(
        (status = 200, description = "`{\"items\": {\"<id>\": {\"pending\", \"failed\"}}}`", body = schemas::RunSummary),
        (status = 400, description = "`ids` missing or an unknown query parameter", body = ErrorBody),
        (status = 422, description = "More than 100 ids", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn run_summary(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Query(q): Query<SummaryQuery>,
) -> Result<Json<RunSummary>, ApiError> {
    let ids = crate::extract::required_param(q.ids, "ids")?;
    let mut list: Vec<String> = Vec::new();
    for id in ids.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !list.iter().any(|x| x == id) {
            list.push(id.to_string());
        }
    }
    if list.len() > MAX_SUMMARY_IDS {
        return Err(ApiError::unprocessable(
            "ids",
            format!("at most {MAX_SUMMARY_IDS} item ids"),
        ));
    }
    let items = state.engine.run_summary(&tenant, &list).await?;
    Ok(Json(RunSummary { items }))
}
