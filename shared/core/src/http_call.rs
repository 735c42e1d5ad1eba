//! The outbound-HTTP port ([`HttpCaller`]): how the engine makes a webhook
//! call, after the commit that decided to make it (never inside a
//! transaction). The adapters guard the destination at call time
//! ([`crate::webhook::guard`]): they resolve the host, refuse if any address
//! is private, loopback, link-local, … (unless the operator allow-lists it),
//! connect to the address they checked, and never follow redirects.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// One outbound request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRequest {
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    pub url: String,
    /// In order; names as given.
    pub headers: Vec<(String, String)>,
    /// `None`: no body (GET, DELETE without one).
    pub body: Option<String>,
    pub timeout_seconds: u64,
}

impl HttpRequest {
    /// The value of header `name` (case-insensitive), if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub latency: Duration,
}

impl HttpResponse {
    /// The value of header `name` (case-insensitive), if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why no response came back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpCallError {
    /// The destination is not allowed (it resolves to a private, loopback,
    /// link-local, … address): never retried.
    #[error("destination refused: {0}")]
    Refused(String),
    /// No answer within the timeout: retried.
    #[error("timed out after {0} s")]
    Timeout(u64),
    /// Could not connect, resolve, or read the answer: retried.
    #[error("transport error: {0}")]
    Transport(String),
}

/// Makes outbound HTTP calls.
#[async_trait]
pub trait HttpCaller: Send + Sync {
    async fn call(&self, request: &HttpRequest) -> Result<HttpResponse, HttpCallError>;
}

/// A caller that refuses every call (for runtimes without outbound HTTP).
pub struct NoHttp;

#[async_trait]
impl HttpCaller for NoHttp {
    async fn call(&self, request: &HttpRequest) -> Result<HttpResponse, HttpCallError> {
        Err(HttpCallError::Refused(format!(
            "outbound HTTP is not configured here ({})",
            request.url
        )))
    }
}
