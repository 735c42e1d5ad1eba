//! The stored state of one webhook call between its attempts.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::http_call::HttpRequest;
use crate::ports::{Cond, Doc, DocKey, Kind, Write};

/// A webhook call waiting for its outcome; `Kind::WebhookCall`, id = run id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookCall {
    pub tenant: String,
    pub run_id: String,
    pub item_id: String,
    pub visit: u64,
    /// The rendered request, without the per-attempt headers (signature,
    /// timestamp, idempotency key).
    pub request: HttpRequest,
    /// Output name → JSON pointer into the response body.
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
    /// Attempts made so far.
    #[serde(default)]
    pub attempts: u32,
    /// When the next attempt is due.
    pub next_at: DateTime<Utc>,
    /// What the last attempt got (`503 in 12 ms`, `timed out after 10 s`).
    #[serde(default)]
    pub last: Option<String>,
    /// The call of an application robot ([`crate::apps`]): a 2xx only
    /// delivers the run to the application, which answers by event until
    /// this deadline (no attempt is timed after it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_deadline: Option<DateTime<Utc>>,
}

impl WebhookCall {
    pub fn key(tenant: &str, run_id: &str) -> DocKey {
        DocKey::new(tenant, Kind::WebhookCall, run_id)
    }

    /// The record as a document at `version`.
    pub fn doc(&self, version: u64) -> Doc {
        Doc {
            key: WebhookCall::key(&self.tenant, &self.run_id),
            version,
            parent: None,
            expires_at: None,
            body: serde_json::to_value(self).expect("a webhook call serializes"),
        }
    }
}

/// Delete the call record of a run, whether or not there is one (a run made
/// final by something else than its call: leaving the stage, stopping).
pub(crate) fn call_delete(tenant: &str, run_id: &str) -> Write {
    Write::Delete {
        key: WebhookCall::key(tenant, run_id),
        parent: None,
        cond: Cond::Any,
    }
}
