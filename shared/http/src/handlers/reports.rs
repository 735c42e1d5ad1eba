//! Reports (issue #13): time in stage, conversion, robot activity, as JSON
//! or, with `Accept: text/csv` (or `format=csv`), as CSV.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use crm_core::reports::csv;
use http::header::{ACCEPT, CONTENT_DISPOSITION, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::auth::Tenant;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Query, required_param};
use crate::schemas;
use crate::state::AppState;

/// Query of the report endpoints.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    pipeline_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    tz: Option<String>,
    responsible_id: Option<String>,
    format: Option<String>,
}

/// Does the client want CSV? `format=csv|json` wins; else the first of
/// `text/csv` and `application/json` in `Accept` (JSON by default).
fn wants_csv(params: &ReportParams, headers: &HeaderMap) -> Result<bool, ApiError> {
    match params.format.as_deref() {
        Some("csv") => return Ok(true),
        Some("json") => return Ok(false),
        Some(other) => {
            return Err(ApiError::bad_request(
                "format",
                format!("'{other}' is not a format: json or csv"),
            ));
        }
        None => {}
    }
    let accept = headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|r| {
            r.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    for range in accept {
        match range.as_str() {
            "text/csv" => return Ok(true),
            "application/json" => return Ok(false),
            _ => {}
        }
    }
    Ok(false)
}

/// The query parameters every report takes (documentation: the handlers
/// read [`ReportParams`], which adds `responsible_id` where it applies).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by utoipa only
pub struct PeriodParams {
    /// The pipeline (required)
    pipeline_id: String,
    /// First day (`YYYY-MM-DD`) or time (RFC 3339); default: 29 days before `to`
    from: Option<String>,
    /// Last day, inclusive, or time; default: today (UTC). At most 366 days after `from`
    to: Option<String>,
    /// IANA time zone the dates are in (default `UTC`). Aggregates are per UTC day: the report covers every UTC day the period overlaps, and names them
    tz: Option<String>,
    /// `json` or `csv` (instead of `Accept: text/csv`)
    format: Option<String>,
}

fn csv_response(text: String, name: &str, from: &str, to: &str) -> Response {
    let mut r = text.into_response();
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let file = format!("attachment; filename=\"{name}_{from}_{to}.csv\"");
    if let Ok(v) = HeaderValue::try_from(file) {
        r.headers_mut().insert(CONTENT_DISPOSITION, v);
    }
    r
}

fn query(
    state: &AppState,
    p: &ReportParams,
    with_responsible: bool,
) -> Result<crm_core::reports::ReportQuery, ApiError> {
    if !with_responsible && p.responsible_id.is_some() {
        return Err(ApiError::bad_request(
            "responsible_id",
            "this report has no responsible filter",
        ));
    }
    let pipeline_id = required_param(p.pipeline_id.clone(), "pipeline_id")?;
    Ok(state.engine.report_query(
        pipeline_id,
        p.from.as_deref(),
        p.to.as_deref(),
        p.tz.as_deref(),
        p.responsible_id.clone(),
    )?)
}

fn answer<T: Serialize>(
    csv: bool,
    report: &T,
    to_csv: impl FnOnce(&T) -> String,
    name: &str,
    period: &crm_core::reports::query::ReportPeriod,
) -> Response {
    if csv {
        csv_response(to_csv(report), name, &period.from, &period.to)
    } else {
        Json(report).into_response()
    }
}

/// Time in stage: per stage of the pipeline, the items whose time in the
/// stage (summed over their visits) ended in the period — count, mean,
/// median and p90 seconds.
#[utoipa::path(
    get,
    path = "/v1/reports/stage-time",
    tag = "reports",
    params(
        PeriodParams,
        ("responsible_id" = Option<String>, Query, description = "Only the items of this responsible (the responsible when the item left the stage)"),
    ),
    responses(
        (status = 200, description = "Per stage: `count`, `visits`, `mean_seconds`, `median_seconds`, `p90_seconds` (quantiles within ±4.9 %), `total_seconds`; as CSV with `Accept: text/csv`", content(
            (schemas::StageTimeReport = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "`pipeline_id` missing, an unknown parameter or `format`", body = ErrorBody),
        (status = 404, description = "No such pipeline", body = ErrorBody),
        (status = 422, description = "`from`/`to` not a date or time, `from` after `to`, a period over 366 days, an unknown `tz` or `responsible_id`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn stage_time(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Query(p): Query<ReportParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let csv = wants_csv(&p, &headers)?;
    let q = query(&state, &p, true)?;
    let r = state.engine.report_stage_time(&tenant, &q).await?;
    Ok(answer(
        csv,
        &r,
        csv::stage_time_csv,
        "stage-time",
        &r.period,
    ))
}

/// Conversion: entries per stage, the funnel (% of the previous stage),
/// success and failure counts, and the processing time from creation to a
/// success stage.
#[utoipa::path(
    get,
    path = "/v1/reports/conversion",
    tag = "reports",
    params(PeriodParams),
    responses(
        (status = 200, description = "Per stage `entered` and `conversion_percent`; `success`, `failure`, `processing_time` (`count`, `mean_seconds`, `median_seconds`); as CSV with `Accept: text/csv`", content(
            (schemas::ConversionReport = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "`pipeline_id` missing, an unknown parameter or `format`", body = ErrorBody),
        (status = 404, description = "No such pipeline", body = ErrorBody),
        (status = 422, description = "`from`/`to` not a date or time, `from` after `to`, a period over 366 days, or an unknown `tz`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn conversion(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Query(p): Query<ReportParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let csv = wants_csv(&p, &headers)?;
    let q = query(&state, &p, false)?;
    let r = state.engine.report_conversion(&tenant, &q).await?;
    Ok(answer(
        csv,
        &r,
        csv::conversion_csv,
        "conversion",
        &r.period,
    ))
}

/// Robot activity: per robot of the pipeline, its runs that finished in the
/// period by status, and how late its delayed runs ran (p50, p99).
#[utoipa::path(
    get,
    path = "/v1/reports/robots",
    tag = "reports",
    params(PeriodParams),
    responses(
        (status = 200, description = "Per robot `runs` (`done`, `skipped`, `cancelled`, `failed`, `loop_stopped`), `total`, `lateness` (`count`, `p50_seconds`, `p99_seconds`); as CSV with `Accept: text/csv`", content(
            (schemas::RobotReport = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "`pipeline_id` missing, an unknown parameter or `format`", body = ErrorBody),
        (status = 404, description = "No such pipeline", body = ErrorBody),
        (status = 422, description = "`from`/`to` not a date or time, `from` after `to`, a period over 366 days, or an unknown `tz`", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn robots(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Query(p): Query<ReportParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let csv = wants_csv(&p, &headers)?;
    let q = query(&state, &p, false)?;
    let r = state.engine.report_robots(&tenant, &q).await?;
    Ok(answer(csv, &r, csv::robots_csv, "robots", &r.period))
}
