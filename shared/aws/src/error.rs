//! Errors of the AWS adapters' own API (configuration, provisioning, test helpers).
//!
//! The port implementations return the core's [`crm_core::ports::StoreError`] and
//! [`crm_core::ports::PortError`]; this type is for everything else.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};

/// Failure of a crm-aws operation outside the engine's ports.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// A required environment variable is missing or malformed.
    #[error("configuration: {0}")]
    Config(String),
    /// An AWS call failed.
    #[error("{operation} failed: {message}")]
    Sdk {
        /// The API operation, e.g. `CreateTable`.
        operation: &'static str,
        /// The error code returned by the service, when there is one.
        code: Option<String>,
        /// The error with its sources.
        message: String,
    },
    /// Data read from AWS could not be decoded.
    #[error("decode: {0}")]
    Decode(String),
    /// The service did not reach the expected state in time.
    #[error("timeout: {0}")]
    Timeout(String),
}

impl AwsError {
    /// Wrap an SDK error of `operation`.
    pub(crate) fn sdk<E>(operation: &'static str, err: E) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        AwsError::Sdk {
            operation,
            code: err.code().map(str::to_owned),
            message: DisplayErrorContext(&err).to_string(),
        }
    }
}

/// The service error code of an SDK error (`ConditionalCheckFailedException`, …).
pub(crate) fn code_of<E: ProvideErrorMetadata>(err: &E) -> Option<&str> {
    err.code()
}

/// A compact one-line description of an SDK error, with its sources.
pub(crate) fn describe<E: std::error::Error + 'static>(err: &E) -> String {
    DisplayErrorContext(err).to_string()
}
