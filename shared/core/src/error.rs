//! Errors of the engine's operations. Each maps to one HTTP status.

use crate::ports::{PortError, StoreError};

/// A problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// Path of the offending field, e.g. `settings.text` or `stage_id`.
    pub field: String,
    pub message: String,
}

/// Errors of engine operations.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Unknown id in the path, or an id of another tenant (HTTP 404).
    #[error("{what} '{id}' not found")]
    NotFound { what: &'static str, id: String },
    /// Wrong shape or type (HTTP 400).
    #[error("{field}: {message}")]
    BadRequest { field: String, message: String },
    /// Unknown reference or rule violation (HTTP 422). `details` lists every problem.
    #[error("{}", details.iter().map(|d| format!("{}: {}", d.field, d.message)).collect::<Vec<_>>().join("; "))]
    Unprocessable { details: Vec<FieldError> },
    /// Stale `If-Match` version or lost optimistic race (HTTP 409).
    #[error("version conflict: {0}")]
    Conflict(String),
    /// A stored document cannot be read as the record it should be (written
    /// by another version, or damaged). Not transient: retrying will not help.
    #[error("corrupt document {0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Port(#[from] PortError),
}

impl EngineError {
    /// A 422 about one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        EngineError::Unprocessable {
            details: vec![FieldError {
                field: field.into(),
                message: message.into(),
            }],
        }
    }
    /// A 400 about one field.
    pub fn bad(field: impl Into<String>, message: impl Into<String>) -> Self {
        EngineError::BadRequest {
            field: field.into(),
            message: message.into(),
        }
    }
    pub fn not_found(what: &'static str, id: impl Into<String>) -> Self {
        EngineError::NotFound {
            what,
            id: id.into(),
        }
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
