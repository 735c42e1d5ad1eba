//! Email and SMS out on AWS (issue #15): Amazon SES `SendRawEmail` for
//! email (the raw MIME of [`crate::email::compose`], so the deterministic
//! `Message-ID` travels and the documents' files are attached — at most
//! 7 MB of files, as SES takes raw messages up to 10 MB; the SES
//! `MessageId` is kept on the outbound record)
//! and Amazon SNS `Publish` to a phone number for SMS. The SES v1 API (the
//! `aws-sdk-ses` crate), not v2: the same sending on AWS, and the one
//! LocalStack emulates (its community edition answers SES v2 with 501).
//!
//! Configured by the environment of the functions that deliver (the
//! stage-change function for first attempts, the robot runner for retries):
//! `CRM_MAIL_FROM` (the verified SES sender; unset: emails go to the log)
//! and `CRM_SMS_SENDER=sns` (unset: SMS go to the log). Robocalls and
//! messenger messages always go to the log.
//!
//! Errors: SES `MessageRejected`, an unverified sender domain, a malformed
//! request, and SNS's invalid parameters (a number that is not E.164) are
//! permanent; throttling, limits, 5xx and transport errors transient.

use std::sync::Arc;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_ses::error::SdkError;
use aws_sdk_ses::types::RawMessage;
use aws_sdk_sns::types::MessageAttributeValue;
use crm_core::model::Outbound;
use crm_core::outbound::files::OutboundFile;
use crm_core::outbound::router::ChannelDelivery;
use crm_core::ports::{Delivered, Delivery, PortError};
use lettre::message::Mailbox;

/// The sender of emails (SES identity), also the `Message-ID` domain.
pub const MAIL_FROM_ENV: &str = "CRM_MAIL_FROM";
/// `sns` turns SMS through SNS on.
pub const SMS_SENDER_ENV: &str = "CRM_SMS_SENDER";
/// The SES configuration set emails are sent with (its event destination
/// publishes bounces and complaints to the inbound topic, issue #15).
pub const SES_CONFIGURATION_SET_ENV: &str = "CRM_SES_CONFIGURATION_SET";

/// Emails through SES (`SendRawEmail`).
pub struct SesSender {
    client: aws_sdk_ses::Client,
    from: Mailbox,
    configuration_set: Option<String>,
}

impl SesSender {
    /// `from`: `Name <a@b>` or `a@b` (an error names a value that is not).
    pub fn new(sdk: &SdkConfig, from: &str) -> Result<Self, String> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("{MAIL_FROM_ENV} is not an email address: {e}"))?;
        Ok(SesSender {
            client: aws_sdk_ses::Client::new(sdk),
            from,
            configuration_set: None,
        })
    }

    /// Send with SES configuration set `name` (bounce and complaint
    /// notifications through its event destination).
    pub fn with_configuration_set(mut self, name: Option<String>) -> Self {
        self.configuration_set = name.filter(|n| !n.trim().is_empty());
        self
    }
}

impl SesSender {
    /// The sender address (without its display name).
    pub fn address(&self) -> String {
        self.from.email.to_string()
    }

    /// Ask SES to verify the sender address (an identity that exists
    /// already is fine): what provisioning and the LocalStack tests do; on
    /// AWS the owner of the address confirms it.
    pub async fn verify_sender(&self) -> Result<(), String> {
        self.client
            .verify_email_identity()
            .email_address(self.address())
            .send()
            .await
            .map(drop)
            .map_err(|e| {
                format!(
                    "SES identity {}: {}",
                    self.address(),
                    aws_sdk_ses::error::DisplayErrorContext(&e)
                )
            })
    }
}

#[async_trait]
impl Delivery for SesSender {
    async fn deliver(&self, m: &Outbound) -> Result<Delivered, PortError> {
        self.deliver_with_files(m, &[]).await
    }

    async fn deliver_with_files(
        &self,
        m: &Outbound,
        files: &[OutboundFile],
    ) -> Result<Delivered, PortError> {
        let (email, _) = crate::email::compose_with_files(m, &self.from, files)?;
        let raw = RawMessage::builder()
            .data(aws_smithy_types::Blob::new(email.formatted()))
            .build()
            .map_err(|e| PortError::Rejected(format!("SES: {e}")))?;
        let sent = self
            .client
            .send_raw_email()
            .source(self.address())
            .destinations(m.to.clone())
            .raw_message(raw)
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await;
        match sent {
            Ok(out) => Ok(Delivered {
                provider_message_id: Some(out.message_id().to_string()),
            }),
            Err(e) => Err(ses_error(e)),
        }
    }
}

fn ses_error(e: SdkError<aws_sdk_ses::operation::send_raw_email::SendRawEmailError>) -> PortError {
    use aws_sdk_ses::operation::send_raw_email::SendRawEmailError as E;
    let text = format!("SES: {}", aws_sdk_ses::error::DisplayErrorContext(&e));
    match e.as_service_error() {
        Some(
            E::MessageRejected(_)
            | E::MailFromDomainNotVerifiedException(_)
            | E::ConfigurationSetDoesNotExistException(_),
        ) => PortError::Rejected(text),
        _ => PortError::Unavailable(text),
    }
}

/// SMS through SNS `Publish` (transactional).
pub struct SnsSms {
    client: aws_sdk_sns::Client,
}

impl SnsSms {
    pub fn new(sdk: &SdkConfig) -> Self {
        SnsSms {
            client: aws_sdk_sns::Client::new(sdk),
        }
    }
}

/// A phone number as E.164 (`+` and 8–15 digits; spaces, dashes, dots and
/// parentheses dropped), or `None`.
pub fn e164(phone: &str) -> Option<String> {
    let kept: String = phone
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    let digits = kept.strip_prefix('+')?;
    (digits.len() >= 8 && digits.len() <= 15 && digits.chars().all(|c| c.is_ascii_digit()))
        .then_some(kept)
}

#[async_trait]
impl Delivery for SnsSms {
    async fn deliver(&self, m: &Outbound) -> Result<Delivered, PortError> {
        let to = e164(&m.to).ok_or_else(|| {
            PortError::Rejected(format!(
                "'{}' is not a phone number in international form (+ and 8–15 digits)",
                m.to
            ))
        })?;
        let kind = MessageAttributeValue::builder()
            .data_type("String")
            .string_value("Transactional")
            .build()
            .map_err(|e| PortError::Rejected(format!("SNS: {e}")))?;
        let sent = self
            .client
            .publish()
            .phone_number(to)
            .message(m.body.clone())
            .message_attributes("AWS.SNS.SMS.SMSType", kind)
            .send()
            .await;
        match sent {
            Ok(out) => Ok(Delivered {
                provider_message_id: out.message_id().map(str::to_string),
            }),
            Err(e) => {
                use aws_sdk_sns::operation::publish::PublishError as E;
                let text = format!("SNS: {}", aws_sdk_sns::error::DisplayErrorContext(&e));
                Err(match e.as_service_error() {
                    Some(
                        E::InvalidParameterException(_)
                        | E::InvalidParameterValueException(_)
                        | E::AuthorizationErrorException(_)
                        | E::EndpointDisabledException(_),
                    ) => PortError::Rejected(text),
                    _ => PortError::Unavailable(text),
                })
            }
        }
    }
}

/// The senders the environment asks for (see the module docs); a bad
/// `CRM_MAIL_FROM` is logged and leaves emails to the log.
pub fn from_lookup(sdk: &SdkConfig, get: impl Fn(&str) -> Option<String>) -> ChannelDelivery {
    let mut delivery = ChannelDelivery::new();
    let set = |k: &str| get(k).filter(|v| !v.trim().is_empty());
    match set(MAIL_FROM_ENV).map(|f| SesSender::new(sdk, &f)) {
        Some(Ok(ses)) => {
            let ses = ses.with_configuration_set(set(SES_CONFIGURATION_SET_ENV));
            tracing::info!(from = %ses.from, "emails through SES");
            delivery = delivery.with_email(Arc::new(ses));
        }
        Some(Err(e)) => tracing::error!(error = %e, "emails go to the log"),
        None => tracing::info!("{MAIL_FROM_ENV} not set: emails go to the log"),
    }
    if set(SMS_SENDER_ENV).is_some_and(|v| v.eq_ignore_ascii_case("sns")) {
        tracing::info!("SMS through SNS");
        delivery = delivery.with_sms(Arc::new(SnsSms::new(sdk)));
    }
    delivery
}

#[cfg(test)]
mod tests {
    use super::e164;

    #[test]
    fn phone_numbers_are_put_in_international_form_or_refused() {
        assert_eq!(e164("+7 (495) 123-45-67").as_deref(), Some("+74951234567"));
        assert_eq!(e164("+1.206.555.0100").as_deref(), Some("+12065550100"));
        assert_eq!(e164("8 495 123 45 67"), None);
        assert_eq!(e164("+7 call me"), None);
        assert_eq!(e164("+123"), None);
    }
}
