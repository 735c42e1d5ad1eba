//! Email over SMTP (lettre): the local server's email sender.
//!
//! `CRM_SMTP_URL` is lettre's connection URL: `smtp://host:port` (plain),
//! `smtp://host:587?tls=required` (STARTTLS), `smtps://user:pass@host:465`
//! (TLS from the start); `CRM_MAIL_FROM` the sender (`Name <a@b>` or `a@b`).
//! Every email carries the deterministic `Message-ID`
//! `<out.{outbound id}@{domain of CRM_MAIL_FROM}>`; a body that looks like
//! HTML is sent as `multipart/alternative` (a plain-text part derived from
//! it, then the HTML). The SMTP server's 4xx answers, timeouts and
//! connection errors are transient (tried again later), its 5xx answers
//! and an unusable recipient address permanent.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use crm_core::model::Outbound;
use crm_core::outbound::message_id::message_id;
use crm_core::ports::{Delivered, Delivery, PortError};
use lettre::message::{Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How long one SMTP conversation may take.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the SMTP configuration is refused at start.
#[derive(Debug, thiserror::Error)]
pub enum SmtpConfigError {
    #[error("CRM_SMTP_URL is not a usable SMTP URL: {0}")]
    Url(String),
    #[error("CRM_MAIL_FROM is not an email address: {0}")]
    From(String),
}

/// Sends emails through one SMTP server.
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpSender {
    pub fn new(url: &str, from: &str) -> Result<Self, SmtpConfigError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| SmtpConfigError::Url(e.to_string()))?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        let from: Mailbox = from
            .parse()
            .map_err(|e: lettre::address::AddressError| SmtpConfigError::From(e.to_string()))?;
        Ok(SmtpSender { transport, from })
    }

    /// The email of outbound message `m`, and its `Message-ID`.
    pub fn email(&self, m: &Outbound) -> Result<(Message, String), PortError> {
        let to: Mailbox = m.to.parse().map_err(|e| {
            PortError::Rejected(format!("the recipient '{}' is not an email address: {e}", m.to))
        })?;
        let id = message_id(&m.id, &self.from.email.to_string());
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.subject.clone().unwrap_or_default())
            .message_id(Some(id.clone()))
            .date(SystemTime::from(m.at));
        let email = if looks_like_html(&m.body) {
            builder.multipart(MultiPart::alternative_plain_html(
                plain_text_of(&m.body),
                m.body.clone(),
            ))
        } else {
            builder.singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(m.body.clone()),
            )
        };
        let email = email.map_err(|e| PortError::Rejected(format!("the email cannot be built: {e}")))?;
        Ok((email, id))
    }
}

#[async_trait]
impl Delivery for SmtpSender {
    async fn deliver(&self, m: &Outbound) -> Result<Delivered, PortError> {
        let (email, id) = self.email(m)?;
        match self.transport.send(email).await {
            Ok(_) => Ok(Delivered {
                provider_message_id: Some(id),
            }),
            Err(e) if e.is_permanent() => Err(PortError::Rejected(format!("SMTP: {e}"))),
            Err(e) => Err(PortError::Unavailable(format!("SMTP: {e}"))),
        }
    }
}

/// Does the body look like HTML (a robot's HTML email, or one whose links
/// the tracking rewrote)?
pub fn looks_like_html(body: &str) -> bool {
    let lower = body.to_ascii_lowercase();
    [
        "<html", "<body", "<p>", "<p ", "<br", "<div", "<a ", "<table", "<span", "<img",
    ]
    .iter()
    .any(|t| lower.contains(t))
}

/// A plain-text rendering of an HTML body: tags dropped (a line break for
/// `<br>`, `<p>`, `<div>`, `<tr>`, `<li>`), the common entities decoded,
/// blank runs collapsed; `<head>`, `<style>` and `<script>` left out.
pub fn plain_text_of(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let mut skip_until: Option<&str> = None;
    while let Some(open) = rest.find('<') {
        if skip_until.is_none() {
            out.push_str(&rest[..open]);
        }
        let Some(close) = rest[open..].find('>') else {
            rest = "";
            break;
        };
        let tag = rest[open + 1..open + close].trim().to_ascii_lowercase();
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        match skip_until {
            Some(end) if tag.starts_with('/') && name == end => skip_until = None,
            Some(_) => {}
            None => match name.as_str() {
                "head" | "style" | "script" if !tag.starts_with('/') => {
                    skip_until = Some(match name.as_str() {
                        "head" => "head",
                        "style" => "style",
                        _ => "script",
                    })
                }
                "br" | "p" | "div" | "tr" | "li" | "h1" | "h2" | "h3" => out.push('\n'),
                _ => {}
            },
        }
        rest = &rest[open + close + 1..];
    }
    if skip_until.is_none() {
        out.push_str(rest);
    }
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let lines: Vec<String> = decoded
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let mut text = String::new();
    let mut blank = true;
    for l in lines {
        if l.is_empty() {
            if !blank {
                text.push('\n');
            }
            blank = true;
        } else {
            text.push_str(&l);
            text.push('\n');
            blank = false;
        }
    }
    text.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_recognised_and_turned_into_text() {
        assert!(looks_like_html("<p>Hello</p>"));
        assert!(!looks_like_html("Price < 5 and > 3"));
        let text = plain_text_of(
            "<html><head><style>p{}</style></head><body><p>Hello &amp; welcome</p>\
             <p>See <a href=\"https://x.test\">the offer</a></p></body></html>",
        );
        assert_eq!(text, "Hello & welcome\nSee the offer");
    }

    #[test]
    fn bad_configuration_is_refused() {
        assert!(SmtpSender::new("http://nope", "a@b.test").is_err());
        assert!(SmtpSender::new("smtp://127.0.0.1:2525", "not an address").is_err());
        assert!(SmtpSender::new("smtp://127.0.0.1:2525", "CRM <robots@b.test>").is_ok());
    }
}
