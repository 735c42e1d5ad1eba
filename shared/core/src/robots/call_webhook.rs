//! `call_webhook`: an HTTP request to another system, signed with the
//! tenant's secret; the run waits (`waiting`) for the answer, made after the
//! commit (see [`crate::webhook`]). Fields of a JSON answer become outputs.

use std::collections::BTreeMap;

use super::prelude::*;
use crate::http_call::HttpRequest;
use crate::model::{OutboxRecord, RunStatus};
use crate::webhook::call::WebhookCall;
use crate::webhook::guard::check_url;
use crate::webhook::json_template::JsonTemplate;

/// Most headers.
pub const MAX_HEADERS: usize = 20;
/// Most outputs mapped from the answer.
pub const MAX_OUTPUTS: usize = 20;
/// Largest body setting (JSON, bytes).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Largest rendered body (bytes).
pub const MAX_RENDERED_BODY_BYTES: usize = 64 * 1024;
/// Headers the engine sets itself (or the transport does).
pub const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "x-signature",
    "x-signature-timestamp",
    "idempotency-key",
];

/// The HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    #[default]
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

fn ten() -> u64 {
    10
}

/// `call_webhook`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallWebhook {
    /// GET, POST (default), PUT, PATCH or DELETE.
    #[serde(default)]
    pub method: Method,
    /// http(s) URL; placeholders only in its path and query (the scheme and
    /// host are literal, and checked against the destination guard).
    pub url: Template,
    /// At most 20; values are templates. Not Host, Content-Length nor the
    /// headers the engine sets (X-Signature, X-Signature-Timestamp,
    /// Idempotency-Key).
    #[serde(default)]
    pub headers: BTreeMap<String, Template>,
    /// JSON sent as the body (POST, PUT, PATCH), its strings templates; at
    /// most 16 KiB.
    #[serde(default)]
    pub body: Option<JsonTemplate>,
    /// 1–30 seconds (default 10).
    #[serde(default = "ten")]
    pub timeout_seconds: u64,
    /// Output name (`[a-z0-9_]`) → JSON pointer into the answer (`/id`,
    /// `/data/0/name`); at most 20. `status_code` is always an output.
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
}

impl RobotType for CallWebhook {
    const GROUP: Group = Group::Integrations;
    const DESCRIPTION: &'static str = "Call a webhook of another system (signed, retried on 5xx/429); answer fields become outputs";
    const OUTPUTS: &'static [&'static str] = &["status_code"];

    fn extra_outputs(&self) -> Vec<&str> {
        self.outputs.keys().map(String::as_str).collect()
    }

    fn templates(&self) -> Vec<(&'static str, &Template)> {
        let mut out = vec![("url", &self.url)];
        out.extend(self.headers.values().map(|t| ("headers", t)));
        if let Some(b) = &self.body {
            out.extend(b.templates().iter().map(|t| ("body", t)));
        }
        out
    }

    fn check(&self, cx: &mut Check<'_>) {
        if let Err(why) = check_origin(self.url.source()) {
            cx.err("settings.url", why);
        }
        if self.headers.len() > MAX_HEADERS {
            cx.err(
                "settings.headers",
                format!("{} headers; at most {MAX_HEADERS}", self.headers.len()),
            );
        }
        for name in self.headers.keys() {
            let field = format!("settings.headers.{name}");
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                cx.err(field, format!("'{name}' is not a valid header name"));
            } else if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                cx.err(field, format!("'{name}' is set by the engine and cannot be set here"));
            }
        }
        if let Some(b) = &self.body {
            let len = serde_json::to_string(b.value()).map_or(0, |s| s.len());
            if len > MAX_BODY_BYTES {
                cx.err(
                    "settings.body",
                    format!("the body is {len} bytes; at most {MAX_BODY_BYTES} (16 KiB)"),
                );
            }
            if matches!(self.method, Method::Get | Method::Delete) {
                cx.err(
                    "settings.body",
                    format!("a {} request has no body", self.method.as_str()),
                );
            }
        }
        if !(1..=30).contains(&self.timeout_seconds) {
            cx.err(
                "settings.timeout_seconds",
                format!("{} s; between 1 and 30", self.timeout_seconds),
            );
        }
        if self.outputs.len() > MAX_OUTPUTS {
            cx.err(
                "settings.outputs",
                format!("{} outputs; at most {MAX_OUTPUTS}", self.outputs.len()),
            );
        }
        for (name, pointer) in &self.outputs {
            let field = format!("settings.outputs.{name}");
            let name_ok = !name.is_empty()
                && name.len() <= 50
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !name_ok {
                cx.err(
                    field,
                    format!("'{name}' is not an output name ([a-z0-9_], 1–50 characters)"),
                );
            } else if Self::OUTPUTS.contains(&name.as_str()) {
                cx.err(field, format!("'{name}' is always an output; pick another name"));
            } else if !(pointer.is_empty() || pointer.starts_with('/')) || pointer.len() > 500 {
                cx.err(
                    field,
                    format!("'{pointer}' is not a JSON pointer (like /id or /data/0/name)"),
                );
            }
        }
    }

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        let url = cx.render(&self.url);
        if let Err(why) = check_url(&url) {
            return fail(format!("{} {url}: destination refused: {why}", self.method.as_str()));
        }
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), cx.render(v)))
            .collect();
        let body = match &self.body {
            Some(b) => {
                let s = b.render(&|t| cx.render(t)).to_string();
                if s.len() > MAX_RENDERED_BODY_BYTES {
                    return fail(format!(
                        "the rendered body is {} bytes; at most {MAX_RENDERED_BODY_BYTES}",
                        s.len()
                    ));
                }
                if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
                    headers.push(("Content-Type".into(), "application/json".into()));
                }
                Some(s)
            }
            None => None,
        };
        let call = WebhookCall {
            tenant: cx.tenant.to_string(),
            run_id: cx.run.id.clone(),
            item_id: cx.item.id.clone(),
            visit: cx.run.visit,
            request: HttpRequest {
                method: self.method.as_str().to_string(),
                url: url.clone(),
                headers,
                body,
                timeout_seconds: self.timeout_seconds,
            },
            outputs: self.outputs.clone(),
            attempts: 0,
            next_at: cx.now,
            last: None,
            app_deadline: None,
        };
        let writes = vec![
            put(call.doc(1), Cond::Absent),
            cx.engine.outbox_write(
                cx.tenant,
                &format!("webhook|{}", cx.run.id),
                &OutboxRecord::CallWebhook {
                    tenant: cx.tenant.to_string(),
                    run_id: cx.run.id.clone(),
                },
            ),
        ];
        Ok(Effect::ended(
            RunStatus::Waiting,
            format!("waiting: calling {} {url}", self.method.as_str()),
        )
        .with(writes))
    }
}

/// An HTTP token character (header names).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The URL template's origin (`scheme://host[:port]`) must be literal and
/// pass the destination guard.
fn check_origin(src: &str) -> Result<(), String> {
    let Some(scheme_end) = src.find("://") else {
        return check_url(src).map(|_| ()).map_err(|e| e.0);
    };
    let rest = &src[scheme_end + 3..];
    let origin_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let origin = &src[..scheme_end + 3 + origin_len];
    if origin.contains("{{") {
        return Err(
            "the scheme and host of the URL must be literal (placeholders only in its path and query)"
                .into(),
        );
    }
    check_url(&format!("{origin}/")).map(|_| ()).map_err(|e| e.0)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::robots::check_tests::check;

    fn errors(settings: serde_json::Value) -> Vec<String> {
        check("call_webhook", settings).0
    }

    #[test]
    fn a_public_url_with_placeholders_in_the_path_is_fine() {
        assert!(
            errors(json!({
                "url": "https://hooks.example.com/deals/{{id}}?t={{title}}",
                "headers": {"X-Api-Key": "abc", "X-Deal": "{{title}}"},
                "body": {"title": "{{title}}", "amount": "{{amount}}", "n": 1},
                "outputs": {"order_id": "/order/id"}
            }))
            .is_empty()
        );
    }

    #[test]
    fn bad_settings_are_named() {
        assert_eq!(errors(json!({"url": "http://169.254.169.254/latest"})), ["settings.url"]);
        assert_eq!(errors(json!({"url": "ftp://example.com/x"})), ["settings.url"]);
        assert_eq!(errors(json!({"url": "https://{{title}}.example.com/"})), ["settings.url"]);
        assert_eq!(errors(json!({"url": "https://u:p@example.com/"})), ["settings.url"]);
        assert_eq!(
            errors(json!({"url": "https://example.com/{{nope}}"})),
            ["settings.url"]
        );
        assert_eq!(
            errors(json!({"url": "https://example.com/", "headers": {"Host": "x"}})),
            ["settings.headers.Host"]
        );
        assert_eq!(
            errors(json!({"url": "https://example.com/", "headers": {"bad name": "x"}})),
            ["settings.headers.bad name"]
        );
        assert_eq!(
            errors(json!({"url": "https://example.com/", "method": "GET", "body": {"a": 1}})),
            ["settings.body"]
        );
        assert_eq!(
            errors(json!({"url": "https://example.com/", "timeout_seconds": 31})),
            ["settings.timeout_seconds"]
        );
        assert_eq!(
            errors(json!({"url": "https://example.com/", "outputs": {"Bad": "/a"}})),
            ["settings.outputs.Bad"]
        );
        assert_eq!(
            errors(json!({"url": "https://example.com/", "outputs": {"a": "no-slash"}})),
            ["settings.outputs.a"]
        );
        let big = "x".repeat(17 * 1024);
        assert_eq!(
            errors(json!({"url": "https://example.com/", "body": {"a": big}})),
            ["settings.body"]
        );
        let many: serde_json::Map<String, serde_json::Value> =
            (0..21).map(|i| (format!("X-H{i}"), json!("v"))).collect();
        assert_eq!(
            errors(json!({"url": "https://example.com/", "headers": many})),
            ["settings.headers"]
        );
    }
}
