//! The one error type of the HTTP layer and its JSON shape:
//! `{"error": {"code": "...", "message": "...", "details": [{"field", "message"}]}}`.
//!
//! Every failure a client can see — engine errors, rejected extractors, auth,
//! unknown routes — becomes an [`ApiError`], so the shape is always the same.
//! Server-side failures are logged here, once, and answered without internals.

use axum::Json;
use axum::response::{IntoResponse, Response};
use crm_core::error::EngineError;
use crm_core::ports::{PortError, StoreError};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use utoipa::ToSchema;

/// One problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Path of the offending field (`settings.text`, `stage_id`), or the name
    /// of a header / query parameter (`If-Match`, `item_id`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// The `error` object of an error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorObject {
    /// Stable machine-readable code: `bad_request`, `unauthorized`,
    /// `forbidden`, `not_found`, `method_not_allowed`, `conflict`, `payload_too_large`, `request_timeout`,
    /// `unsupported_media_type`, `unprocessable`, `too_many_requests`, `internal`, `unavailable`.
    pub code: String,
    /// Human-readable summary.
    pub message: String,
    /// Per-field problems (may be empty).
    pub details: Vec<ErrorDetail>,
}

/// Body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorObject,
}

/// An error answered to the client: status + `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Vec<ErrorDetail>,
    /// Seconds for the `Retry-After` header (429).
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a status, a code and a message, without details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
        }
    }

    /// Adds one field problem to the details.
    pub fn with_detail(mut self, field: impl Into<String>, message: impl Into<String>) -> Self {
        self.details.push(ErrorDetail {
            field: field.into(),
            message: message.into(),
        });
        self
    }

    /// 400 `bad_request` about one field (or header / query parameter).
    pub fn bad_request(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("{field}: {message}"),
        )
        .with_detail(field, message)
    }

    /// 422 `unprocessable` about one field.
    pub fn unprocessable(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
            format!("{field}: {message}"),
        )
        .with_detail(field, message)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403 `forbidden`: the key is valid but may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 `not_found` with a message.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 429 `too_many_requests` with `Retry-After: <seconds>` (at least 1)
    /// and a message of the caller's (the public endpoints' limits).
    pub fn rate_limited(retry_after_secs: u64, message: impl Into<String>) -> Self {
        let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", message);
        e.retry_after = Some(retry_after_secs.max(1));
        e
    }

    /// 429 `too_many_requests` with `Retry-After: <seconds>` (at least 1):
    /// the tenant is over its request rate.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        let secs = retry_after_secs.max(1);
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            format!("too many requests for this tenant; retry after {secs} s"),
        );
        e.retry_after = Some(secs);
        e
    }

    /// 500 `internal`; the cause must already be logged.
    pub fn internal() -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }

    /// 503 `unavailable`; the cause must already be logged.
    pub fn unavailable() -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the service is temporarily unavailable; retry later",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The per-field problems.
    pub fn details(&self) -> &[ErrorDetail] {
        &self.details
    }

    /// The JSON body of this error.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorObject {
                code: self.code.to_string(),
                message: self.message.clone(),
                details: self.details.clone(),
            },
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        match err {
            EngineError::NotFound { .. } => ApiError::not_found(err.to_string()),
            EngineError::BadRequest { field, message } => ApiError::bad_request(field, message),
            EngineError::Unprocessable { ref details } => {
                let mut out = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "unprocessable",
                    err.to_string(),
                );
                for d in details {
                    out = out.with_detail(d.field.clone(), d.message.clone());
                }
                out
            }
            EngineError::Conflict(_) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", err.to_string())
            }
            EngineError::Store(StoreError::Conflict { key }) => {
                // Lost an optimistic race. The key names tenant/kind/id: log it,
                // do not answer it.
                tracing::debug!(%key, "store conflict answered as 409");
                ApiError::new(
                    StatusCode::CONFLICT,
                    "conflict",
                    "the resource was changed concurrently; read it again and retry",
                )
            }
            EngineError::Store(StoreError::Unavailable(cause)) => {
                tracing::error!(%cause, "store unavailable");
                ApiError::unavailable()
            }
            EngineError::Corrupt(cause) => {
                tracing::error!(%cause, "corrupt stored document");
                ApiError::internal()
            }
            EngineError::Store(StoreError::Rejected(cause)) => {
                tracing::warn!(%cause, "the store rejected a write");
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "rejected",
                    "the store rejected the write (it exceeds a storage limit)",
                )
            }
            EngineError::Store(StoreError::Invalid(cause)) => {
                tracing::error!(%cause, "invalid store transaction");
                ApiError::internal()
            }
            EngineError::Port(PortError::Unavailable(cause)) => {
                tracing::error!(%cause, "port unavailable");
                ApiError::unavailable()
            }
            EngineError::Port(PortError::Rejected(cause)) => {
                tracing::error!(%cause, "port rejected a request");
                ApiError::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_core::error::FieldError;

    #[test]
    fn engine_errors_map_to_statuses() {
        let cases: Vec<(EngineError, StatusCode, &str)> = vec![
            (
                EngineError::not_found("item", "i-1"),
                StatusCode::NOT_FOUND,
                "not_found",
            ),
            (
                EngineError::bad("stage_id", "must be a string"),
                StatusCode::BAD_REQUEST,
                "bad_request",
            ),
            (
                EngineError::invalid("stage_id", "unknown stage"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "unprocessable",
            ),
            (
                EngineError::Conflict("stale".into()),
                StatusCode::CONFLICT,
                "conflict",
            ),
            (
                StoreError::Conflict {
                    key: "t/item/i-1".into(),
                }
                .into(),
                StatusCode::CONFLICT,
                "conflict",
            ),
            (
                StoreError::Unavailable("db down at 10.0.0.1".into()).into(),
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
            ),
            (
                PortError::Unavailable("sqs".into()).into(),
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
            ),
            (
                StoreError::Invalid("twice".into()).into(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
            ),
            (
                PortError::Rejected("too big".into()).into(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
            ),
        ];
        for (err, status, code) in cases {
            let api = ApiError::from(err);
            assert_eq!(api.status(), status);
            assert_eq!(api.code(), code);
        }
    }

    #[test]
    fn internals_are_not_leaked() {
        let api = ApiError::from(EngineError::from(StoreError::Unavailable(
            "db down at 10.0.0.1".into(),
        )));
        assert!(!api.message().contains("10.0.0.1"));
        let api = ApiError::from(EngineError::from(StoreError::Conflict {
            key: "tenant-a/item/i-1".into(),
        }));
        assert!(!api.message().contains("tenant-a"));
    }

    #[test]
    fn unprocessable_keeps_every_detail() {
        let api = ApiError::from(EngineError::Unprocessable {
            details: vec![
                FieldError {
                    field: "stage_id".into(),
                    message: "unknown stage".into(),
                },
                FieldError {
                    field: "settings.text".into(),
                    message: "unknown placeholder".into(),
                },
            ],
        });
        let fields: Vec<_> = api.details().iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["stage_id", "settings.text"]);
    }
}
