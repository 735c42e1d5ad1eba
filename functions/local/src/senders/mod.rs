//! The local server's email and SMS senders, chosen from the environment at
//! start (see README "Email and SMS delivery"):
//!
//! - `CRM_SMTP_URL` + `CRM_MAIL_FROM`: emails over SMTP ([`smtp`]);
//! - `CRM_SMS_GATEWAY_URL` (+ `CRM_SMS_GATEWAY_TEMPLATE`, the JSON body with
//!   `{to}` `{text}` `{id}`, and `CRM_SMS_GATEWAY_HEADER`, e.g.
//!   `Authorization: Bearer …`): SMS through an HTTP gateway, via the
//!   outbound-HTTP port (so `CRM_WEBHOOK_ALLOW` applies to a private host);
//! - otherwise, and always for robocalls and messenger messages, the log
//!   adapter (one log line per message, marked sent).

pub mod smtp;

use std::sync::Arc;

use crm_core::http_call::HttpCaller;
use crm_core::outbound::router::ChannelDelivery;
use crm_core::outbound::sms_gateway::{GatewayConfigError, SmsGateway};

/// SMTP URL (lettre's form).
pub const SMTP_URL_ENV: &str = "CRM_SMTP_URL";
/// The sender of emails (and the domain of their `Message-ID`).
pub const MAIL_FROM_ENV: &str = "CRM_MAIL_FROM";
/// The HTTP SMS gateway's URL.
pub const SMS_URL_ENV: &str = "CRM_SMS_GATEWAY_URL";
/// The gateway's JSON body template.
pub const SMS_TEMPLATE_ENV: &str = "CRM_SMS_GATEWAY_TEMPLATE";
/// One extra header of the gateway's requests (`Name: value`).
pub const SMS_HEADER_ENV: &str = "CRM_SMS_GATEWAY_HEADER";

/// A sender configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SenderConfigError {
    #[error(transparent)]
    Smtp(#[from] smtp::SmtpConfigError),
    #[error("{SMTP_URL_ENV} is set but {MAIL_FROM_ENV} is not: emails need a sender address")]
    NoFrom,
    #[error("{SMS_URL_ENV}: {0}")]
    Sms(#[from] GatewayConfigError),
}

/// What the senders are, for the start banner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendersSummary {
    pub email: String,
    pub sms: String,
}

/// The senders configured by `env` (a lookup such as `std::env::var`).
pub fn from_env(
    env: impl Fn(&str) -> Option<String>,
    http: Arc<dyn HttpCaller>,
) -> Result<(ChannelDelivery, SendersSummary), SenderConfigError> {
    let mut delivery = ChannelDelivery::new();
    let mut summary = SendersSummary {
        email: format!("log only (set {SMTP_URL_ENV} and {MAIL_FROM_ENV} to send)"),
        sms: format!("log only (set {SMS_URL_ENV} to send)"),
    };
    let set = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    if let Some(url) = set(SMTP_URL_ENV) {
        let from = set(MAIL_FROM_ENV).ok_or(SenderConfigError::NoFrom)?;
        delivery = delivery.with_email(Arc::new(smtp::SmtpSender::new(&url, &from)?));
        summary.email = format!("SMTP {} from {from}", without_password(&url));
    }
    if let Some(url) = set(SMS_URL_ENV) {
        let template = set(SMS_TEMPLATE_ENV);
        let header = set(SMS_HEADER_ENV);
        let gateway = SmsGateway::new(&url, template.as_deref(), header.as_deref(), http)?;
        delivery = delivery.with_sms(Arc::new(gateway));
        summary.sms = format!("HTTP gateway {url}");
    }
    Ok((delivery, summary))
}

/// The URL with its credentials hidden (for logs).
fn without_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_core::http_call::NoHttp;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn nothing_configured_logs_and_a_partial_configuration_is_refused() {
        let (_, s) = from_env(env(&[]), Arc::new(NoHttp)).unwrap();
        assert!(s.email.starts_with("log only") && s.sms.starts_with("log only"));
        let Err(e) = from_env(env(&[(SMTP_URL_ENV, "smtp://h:25")]), Arc::new(NoHttp)) else {
            panic!("accepted without a sender")
        };
        assert!(e.to_string().contains(MAIL_FROM_ENV), "{e}");
        let Err(e) = from_env(env(&[(SMS_URL_ENV, "gopher://x")]), Arc::new(NoHttp)) else {
            panic!("accepted a gopher URL")
        };
        assert!(e.to_string().contains(SMS_URL_ENV), "{e}");
        let (_, s) = from_env(
            env(&[
                (SMTP_URL_ENV, "smtps://u:secret@mail.test:465"),
                (MAIL_FROM_ENV, "robots@shop.test"),
            ]),
            Arc::new(NoHttp),
        )
        .unwrap();
        assert_eq!(
            s.email,
            "SMTP smtps://***@mail.test:465 from robots@shop.test"
        );
    }
}
