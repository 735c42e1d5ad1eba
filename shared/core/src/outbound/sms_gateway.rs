//! SMS through an HTTP gateway (the local server's SMS sender): one `POST`
//! per message through the [`HttpCaller`] port, so the destination guard
//! (private addresses refused unless allow-listed) applies.
//!
//! The body is a JSON template with the placeholders `{to}`, `{text}` and
//! `{id}` (the outbound id, for the gateway's de-duplication), replaced by
//! the JSON-escaped values; the template must be valid JSON with the
//! placeholders inside strings. Answers: 2xx → sent (the gateway's message
//! id from the answer's `id` or `message_id`, if any); 429, 5xx, timeouts
//! and transport errors → tried again later; any other status or a refused
//! destination → failed.

use std::sync::Arc;

use async_trait::async_trait;

use crate::http_call::{HttpCallError, HttpCaller, HttpRequest};
use crate::model::Outbound;
use crate::ports::{Delivered, Delivery, PortError};

/// The body sent when no template is configured.
pub const DEFAULT_TEMPLATE: &str = r#"{"to":"{to}","text":"{text}","id":"{id}"}"#;

/// Why a gateway configuration is refused.
#[derive(Debug, thiserror::Error)]
pub enum GatewayConfigError {
    #[error("the SMS gateway URL must be http:// or https://: {0}")]
    Url(String),
    #[error("the SMS body template is not valid JSON once filled in: {0}")]
    Template(String),
    #[error("the SMS gateway header must be 'Name: value': {0}")]
    Header(String),
}

/// An HTTP SMS gateway.
pub struct SmsGateway {
    url: String,
    template: String,
    headers: Vec<(String, String)>,
    http: Arc<dyn HttpCaller>,
}

impl SmsGateway {
    /// `template`: the JSON body ([`DEFAULT_TEMPLATE`] when `None`);
    /// `header`: an extra header such as `Authorization: Bearer …`.
    pub fn new(
        url: &str,
        template: Option<&str>,
        header: Option<&str>,
        http: Arc<dyn HttpCaller>,
    ) -> Result<Self, GatewayConfigError> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(GatewayConfigError::Url(url.to_string()));
        }
        let template = template.unwrap_or(DEFAULT_TEMPLATE).to_string();
        let probe = fill(&template, "+10000000000", "probe \"text\"", "sms-1");
        serde_json::from_str::<serde_json::Value>(&probe)
            .map_err(|e| GatewayConfigError::Template(e.to_string()))?;
        let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
        if let Some(h) = header {
            let (n, v) = h
                .split_once(':')
                .filter(|(n, _)| !n.trim().is_empty())
                .ok_or_else(|| GatewayConfigError::Header(h.to_string()))?;
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
        Ok(SmsGateway {
            url: url.to_string(),
            template,
            headers,
            http,
        })
    }

    /// The request that sends `m`.
    pub fn request(&self, m: &Outbound) -> HttpRequest {
        HttpRequest {
            method: "POST".into(),
            url: self.url.clone(),
            headers: self.headers.clone(),
            body: Some(fill(&self.template, &m.to, &m.body, &m.id)),
            timeout_seconds: 10,
        }
    }
}

/// The template with its placeholders replaced by JSON-escaped values.
fn fill(template: &str, to: &str, text: &str, id: &str) -> String {
    let esc = |s: &str| {
        let q = serde_json::to_string(s).expect("a string serializes");
        q[1..q.len() - 1].to_string()
    };
    template
        .replace("{to}", &esc(to))
        .replace("{text}", &esc(text))
        .replace("{id}", &esc(id))
}

#[async_trait]
impl Delivery for SmsGateway {
    async fn deliver(&self, m: &Outbound) -> Result<Delivered, PortError> {
        let what = format!("SMS gateway {}", self.url);
        match self.http.call(&self.request(m)).await {
            Ok(r) if (200..300).contains(&r.status) => {
                let body: serde_json::Value = serde_json::from_str(&r.body).unwrap_or_default();
                let id =
                    ["id", "message_id", "messageId"]
                        .iter()
                        .find_map(|k| match body.get(*k) {
                            Some(serde_json::Value::String(s)) => Some(s.clone()),
                            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                            _ => None,
                        });
                Ok(Delivered {
                    provider_message_id: id,
                })
            }
            Ok(r) if r.status == 429 || r.status >= 500 => Err(PortError::Unavailable(format!(
                "{what} answered {}",
                r.status
            ))),
            Ok(r) => Err(PortError::Rejected(format!(
                "{what} answered {}: {}",
                r.status,
                r.body.chars().take(200).collect::<String>()
            ))),
            Err(HttpCallError::Refused(why)) => Err(PortError::Rejected(format!(
                "{what}: destination refused: {why}"
            ))),
            Err(e) => Err(PortError::Unavailable(format!("{what}: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_call::NoHttp;

    #[test]
    fn placeholders_are_filled_with_json_escaped_values() {
        let g = SmsGateway::new(
            "http://sms.test/send",
            Some(r#"{"phone":"{to}","message":"{text}","ref":"{id}"}"#),
            Some("Authorization: Bearer k"),
            Arc::new(NoHttp),
        )
        .unwrap();
        let body = fill(&g.template, "+7 900", "say \"hi\"\nbye", "sms-3");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["phone"], "+7 900");
        assert_eq!(v["message"], "say \"hi\"\nbye");
        assert_eq!(v["ref"], "sms-3");
        assert!(
            g.headers
                .iter()
                .any(|(n, v)| n == "Authorization" && v == "Bearer k")
        );
    }

    #[test]
    fn bad_configuration_is_refused() {
        let bad = |u, t, h| SmsGateway::new(u, t, h, Arc::new(NoHttp)).is_err();
        assert!(bad("ftp://x", None, None));
        assert!(bad("http://x", Some("{to}"), None));
        assert!(bad("http://x", None, Some("no colon")));
        assert!(!bad("https://x", None, None));
    }
}
