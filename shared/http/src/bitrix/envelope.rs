//! The Bitrix answer envelope: `{"result": …, "time": {…}}` on success,
//! `{"error": "CODE", "error_description": "…"}` on failure, with the
//! statuses the official SDKs map to their exceptions and retries.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use crm_core::error::EngineError;
use crm_core::ports::{PortError, StoreError};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A failed call, as Bitrix answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitrixError {
    /// The HTTP status.
    pub status: StatusCode,
    /// `INVALID_ARG_VALUE`, `invalid_token`, `ACCESS_DENIED`, `NOT_FOUND`, …
    pub code: &'static str,
    /// What went wrong, in words.
    pub description: String,
}

/// The body of a failed call.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BitrixErrorBody {
    /// The error code (`INVALID_ARG_VALUE`, `invalid_token`, `ACCESS_DENIED`,
    /// `NOT_FOUND`, `ERROR_METHOD_NOT_FOUND`, `QUERY_LIMIT_EXCEEDED`, …).
    pub error: String,
    /// What went wrong, in words.
    pub error_description: String,
}

/// The body of a successful call.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BitrixAnswer {
    /// The method's result (`true`, or a list for `.list`).
    pub result: Value,
    /// When the call started and finished (epoch seconds and RFC 3339) and
    /// how long it took.
    pub time: Value,
}

impl BitrixError {
    fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        BitrixError {
            status,
            code,
            description: description.into(),
        }
    }

    /// 400 `INVALID_ARG_VALUE`: a parameter has a wrong value.
    pub fn invalid_arg(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_ARG_VALUE", description)
    }

    /// 400 `ERROR_ARGUMENT`: a required parameter is missing.
    pub fn missing(param: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "ERROR_ARGUMENT",
            format!("Argument '{param}' is null or empty"),
        )
    }

    /// 401 `invalid_token`: wrong, revoked or unknown credential (which, it
    /// does not say).
    pub fn invalid_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "Unable to authorize user with this webhook",
        )
    }

    /// 403 `ACCESS_DENIED`.
    pub fn access_denied(description: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "ACCESS_DENIED", description)
    }

    /// 404 `NOT_FOUND`.
    pub fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", description)
    }

    /// 404 `ERROR_METHOD_NOT_FOUND`.
    pub fn method_not_found(method: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ERROR_METHOD_NOT_FOUND",
            format!("Method '{method}' not found"),
        )
    }

    /// 503 `QUERY_LIMIT_EXCEEDED`: over the tenant's request rate (the SDKs
    /// wait and retry).
    pub fn query_limit() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "QUERY_LIMIT_EXCEEDED",
            "Too many requests",
        )
    }

    /// 503 `OVERLOAD_LIMIT`: the store or a queue is unavailable; retry.
    pub fn overload() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "OVERLOAD_LIMIT",
            "The service is temporarily unavailable; retry",
        )
    }

    /// 500 `INTERNAL_SERVER_ERROR`.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_SERVER_ERROR",
            "Internal server error",
        )
    }

    /// 413 `PAYLOAD_TOO_LARGE`.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("The request body exceeds {} KiB", limit / 1024),
        )
    }
}

impl From<EngineError> for BitrixError {
    fn from(err: EngineError) -> Self {
        match err {
            EngineError::NotFound { .. } => BitrixError::not_found(err.to_string()),
            EngineError::BadRequest { .. } | EngineError::Unprocessable { .. } => {
                BitrixError::invalid_arg(err.to_string())
            }
            EngineError::Conflict(_)
            | EngineError::Store(StoreError::Conflict { .. })
            | EngineError::Store(StoreError::Unavailable(_))
            | EngineError::Port(PortError::Unavailable(_)) => {
                tracing::warn!(error = %err, "bitrix call: retryable failure");
                BitrixError::overload()
            }
            other => {
                tracing::error!(error = %other, "bitrix call failed");
                BitrixError::internal()
            }
        }
    }
}

impl IntoResponse for BitrixError {
    fn into_response(self) -> Response {
        let body = BitrixErrorBody {
            error: self.code.to_string(),
            error_description: self.description,
        };
        (self.status, axum::Json(body)).into_response()
    }
}

/// When a call started, for the `time` block.
#[derive(Debug, Clone, Copy)]
pub struct Started {
    at: SystemTime,
    instant: std::time::Instant,
}

impl Started {
    /// A call starting at `at` (the engine's clock, so a manual clock shows
    /// in the `time` block as everywhere else); its duration is measured.
    pub fn at(at: DateTime<Utc>) -> Self {
        Started {
            at: SystemTime::from(at),
            instant: std::time::Instant::now(),
        }
    }
}

fn epoch(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn rfc3339(t: SystemTime) -> String {
    DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// `{"result": result, "time": {start, finish, duration, processing,
/// date_start, date_finish, operating, operating_reset_at}}`.
pub fn answer(result: Value, started: Started) -> Response {
    let elapsed = started.instant.elapsed();
    let finish = started.at + elapsed;
    let secs = elapsed.as_secs_f64();
    let time = json!({
        "start": epoch(started.at),
        "finish": epoch(finish),
        "duration": secs,
        "processing": secs,
        "date_start": rfc3339(started.at),
        "date_finish": rfc3339(finish),
        "operating": 0,
        "operating_reset_at": epoch(finish).floor() as i64 + 600,
    });
    (
        StatusCode::OK,
        axum::Json(json!({"result": result, "time": time})),
    )
        .into_response()
}
