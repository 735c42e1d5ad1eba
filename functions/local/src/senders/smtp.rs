//! Email over SMTP (lettre): the local server's email sender.
//!
//! `CRM_SMTP_URL` is lettre's connection URL: `smtp://host:port` (plain),
//! `smtp://host:587?tls=required` (STARTTLS), `smtps://user:pass@host:465`
//! (TLS from the start); `CRM_MAIL_FROM` the sender (`Name <a@b>` or `a@b`).
//! The email is composed by [`crm_aws::email::compose`] (the deterministic
//! `Message-ID` `<out.{outbound id}@{domain of CRM_MAIL_FROM}>`, HTML as
//! `multipart/alternative`, the documents' files attached). The SMTP server's 4xx answers, timeouts and
//! connection errors are transient (tried again later), its 5xx answers
//! and an unusable recipient address permanent.

use std::time::Duration;

use async_trait::async_trait;
use crm_aws::email::compose_with_files;
use crm_core::model::Outbound;
use crm_core::outbound::files::OutboundFile;
use crm_core::ports::{Delivered, Delivery, PortError};
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

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
}

#[async_trait]
impl Delivery for SmtpSender {
    async fn deliver(&self, m: &Outbound) -> Result<Delivered, PortError> {
        self.deliver_with_files(m, &[]).await
    }

    async fn deliver_with_files(
        &self,
        m: &Outbound,
        files: &[OutboundFile],
    ) -> Result<Delivered, PortError> {
        let (email, id) = compose_with_files(m, &self.from, files)?;
        match self.transport.send(email).await {
            Ok(_) => Ok(Delivered {
                provider_message_id: Some(id),
            }),
            Err(e) if e.is_permanent() => Err(PortError::Rejected(format!("SMTP: {e}"))),
            Err(e) => Err(PortError::Unavailable(format!("SMTP: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_configuration_is_refused() {
        assert!(SmtpSender::new("http://nope", "a@b.test").is_err());
        assert!(SmtpSender::new("smtp://127.0.0.1:2525", "not an address").is_err());
        assert!(SmtpSender::new("smtp://127.0.0.1:2525", "CRM <robots@b.test>").is_ok());
    }
}
