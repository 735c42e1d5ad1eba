//! Incoming email and SES feedback on AWS (issue #15), through SNS.
//!
//! SES publishes to the topic of `infra/template.yaml` (parameter
//! `InboundEmailDomain`): a receipt rule's S3 action stores each mail to the
//! inbound domain in the inbound bucket and notifies the topic
//! (`notificationType: "Received"`, `receipt.action` naming the bucket and
//! key: <https://docs.aws.amazon.com/ses/latest/dg/receiving-email-notifications-contents.html>),
//! and the sending identity's feedback notifications go to the same topic
//! (`Bounce`, `Complaint`:
//! <https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html>).
//! The trigger-eval function is subscribed; an SNS invocation is told from
//! its SQS batches by the records' `EventSource` ([`is_sns_event`]).
//!
//! - `Received`: the raw mail is read from S3 (at most
//!   [`MAX_MAIL_BYTES`]; an SNS action's inline `content` is taken too) and
//!   handed to [`Engine::receive_email`] with `receipt.recipients`.
//!   Mail SES marked as spam or a virus (`spamVerdict` / `virusVerdict`
//!   `FAIL`) is dropped.
//! - `Bounce` with `bounceType: "Permanent"` and `Complaint`: the message is
//!   found by our `Message-ID` (`mail.commonHeaders.messageId`, else the
//!   `Message-ID` of `mail.headers`) and the SES id (`mail.messageId`) must
//!   be the one on its record; it is marked `bounced` / `complained`
//!   ([`Engine::outbound_feedback`]). Transient bounces are only logged.
//!
//! A notification that cannot be read, or matches nothing, is logged and
//! dropped (no retry can help); a store, queue or S3 failure is an error,
//! and Lambda retries the invocation.

use aws_sdk_s3::error::DisplayErrorContext;
use base64::Engine as _;
use crm_core::Engine;
use crm_core::error::EngineError;
use crm_core::inbound::mail::MAX_MAIL_BYTES;
use crm_core::inbound::{Feedback, Received};
use serde::Deserialize;
use serde_json::Value;

/// Why a notification could not be handled now (Lambda retries).
#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    #[error("S3 GetObject {bucket}/{key}: {message}")]
    S3 {
        bucket: String,
        key: String,
        message: String,
    },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Does this Lambda payload come from SNS (`Records[].EventSource ==
/// "aws:sns"`)?
pub fn is_sns_event(payload: &Value) -> bool {
    payload["Records"]
        .as_array()
        .and_then(|r| r.first())
        .is_some_and(|r| r["EventSource"] == "aws:sns")
}

/// The SNS messages (`Records[].Sns.Message`) of an SNS invocation.
pub fn sns_messages(payload: &Value) -> Vec<String> {
    payload["Records"]
        .as_array()
        .map(|records| {
            records
                .iter()
                .filter_map(|r| r["Sns"]["Message"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The parts of an SES notification used here.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SesNotification {
    /// `Received`, `Bounce`, `Complaint` (`eventType` in event publishing).
    #[serde(default, alias = "eventType")]
    pub notification_type: String,
    #[serde(default)]
    pub mail: SesMail,
    #[serde(default)]
    pub receipt: Option<SesReceipt>,
    #[serde(default)]
    pub bounce: Option<SesBounce>,
    #[serde(default)]
    pub complaint: Option<SesComplaint>,
    /// The mail itself, from an SNS receipt action (base64 or UTF-8).
    #[serde(default)]
    pub content: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SesMail {
    /// SES's id of the message.
    #[serde(default)]
    pub message_id: String,
    #[serde(default)]
    pub headers: Vec<SesHeader>,
    #[serde(default)]
    pub common_headers: SesCommonHeaders,
}

#[derive(Debug, Default, Deserialize)]
pub struct SesHeader {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SesCommonHeaders {
    #[serde(default)]
    pub message_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SesReceipt {
    #[serde(default)]
    pub recipients: Vec<String>,
    #[serde(default)]
    pub spam_verdict: Option<SesVerdict>,
    #[serde(default)]
    pub virus_verdict: Option<SesVerdict>,
    #[serde(default)]
    pub action: SesAction,
}

#[derive(Debug, Default, Deserialize)]
pub struct SesVerdict {
    #[serde(default)]
    pub status: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SesAction {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub bucket_name: Option<String>,
    #[serde(default)]
    pub object_key: Option<String>,
    #[serde(default)]
    pub encoding: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SesBounce {
    #[serde(default)]
    pub bounce_type: String,
    #[serde(default)]
    pub bounce_sub_type: String,
    #[serde(default)]
    pub bounced_recipients: Vec<SesRecipient>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SesComplaint {
    #[serde(default)]
    pub complaint_feedback_type: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SesRecipient {
    #[serde(default)]
    pub email_address: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub diagnostic_code: Option<String>,
}

impl SesMail {
    /// Our `Message-ID` of the mail the notification is about.
    fn our_message_id(&self) -> Option<&str> {
        self.common_headers.message_id.as_deref().or_else(|| {
            self.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("Message-ID"))
                .map(|h| h.value.as_str())
        })
    }
}

/// Handles SES notifications with the engine and an S3 client.
#[derive(Clone)]
pub struct InboundMail<'a> {
    pub engine: &'a Engine,
    pub s3: &'a aws_sdk_s3::Client,
}

fn dropped(reason: impl Into<String>) -> Received {
    Received::Unmatched {
        reason: reason.into(),
    }
}

impl InboundMail<'_> {
    /// Handle one SNS message (the SES notification's JSON).
    pub async fn handle(&self, message: &str) -> Result<Received, InboundError> {
        let n: SesNotification = match serde_json::from_str(message) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "an SNS message that is not an SES notification: dropped");
                return Ok(dropped(format!("not an SES notification: {e}")));
            }
        };
        let got = match n.notification_type.as_str() {
            "Received" => self.received(&n).await?,
            "Bounce" => self.bounce(&n).await?,
            "Complaint" => self.complaint(&n).await?,
            other => dropped(format!("SES notification type '{other}' is not handled")),
        };
        if let Received::Unmatched { reason } = &got {
            tracing::info!(kind = %n.notification_type, ses_id = %n.mail.message_id, %reason, "SES notification dropped");
        }
        Ok(got)
    }

    async fn received(&self, n: &SesNotification) -> Result<Received, InboundError> {
        let Some(receipt) = &n.receipt else {
            return Ok(dropped("no receipt"));
        };
        let failed = |v: &Option<SesVerdict>| v.as_ref().is_some_and(|v| v.status == "FAIL");
        if failed(&receipt.spam_verdict) || failed(&receipt.virus_verdict) {
            return Ok(dropped("SES marked the mail as spam or a virus"));
        }
        let raw = match (&n.content, &receipt.action) {
            (Some(content), action) => {
                let base64 = action
                    .encoding
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case("BASE64"));
                if base64 {
                    match base64::engine::general_purpose::STANDARD.decode(content.trim()) {
                        Ok(b) => b,
                        Err(_) => return Ok(dropped("inline content is not base64")),
                    }
                } else {
                    content.as_bytes().to_vec()
                }
            }
            (
                None,
                SesAction {
                    bucket_name: Some(bucket),
                    object_key: Some(key),
                    ..
                },
            ) => match self.object(bucket, key).await? {
                Some(raw) => raw,
                None => return Ok(dropped("the stored mail is gone or too large")),
            },
            _ => return Ok(dropped("neither inline content nor an S3 object")),
        };
        Ok(self.engine.receive_email(&raw, &receipt.recipients).await?)
    }

    async fn bounce(&self, n: &SesNotification) -> Result<Received, InboundError> {
        let Some(bounce) = &n.bounce else {
            return Ok(dropped("no bounce"));
        };
        if bounce.bounce_type != "Permanent" {
            return Ok(dropped(format!(
                "a {} bounce ({}) is not final",
                bounce.bounce_type, bounce.bounce_sub_type
            )));
        }
        let Some(id) = n.mail.our_message_id() else {
            return Ok(dropped("no Message-ID"));
        };
        let detail = bounce
            .bounced_recipients
            .iter()
            .map(|r| {
                let said = [r.status.as_deref(), r.diagnostic_code.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                format!("{} {said}", r.email_address).trim().to_string()
            })
            .collect::<Vec<_>>()
            .join("; ");
        let detail = format!(
            "{} ({}) {detail}",
            bounce.bounce_type, bounce.bounce_sub_type
        );
        Ok(self
            .engine
            .outbound_feedback(id, ses_id(n), Feedback::Bounced, detail.trim())
            .await?)
    }

    async fn complaint(&self, n: &SesNotification) -> Result<Received, InboundError> {
        let Some(id) = n.mail.our_message_id() else {
            return Ok(dropped("no Message-ID"));
        };
        let kind = n
            .complaint
            .as_ref()
            .and_then(|c| c.complaint_feedback_type.clone())
            .unwrap_or_else(|| "complaint".to_string());
        Ok(self
            .engine
            .outbound_feedback(id, ses_id(n), Feedback::Complained, &kind)
            .await?)
    }

    /// The stored mail (`None`: no such object, or larger than allowed).
    async fn object(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, InboundError> {
        let err = |message: String| InboundError::S3 {
            bucket: bucket.to_string(),
            key: key.to_string(),
            message,
        };
        let out = match self.s3.get_object().bucket(bucket).key(key).send().await {
            Ok(o) => o,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(err(DisplayErrorContext(&e).to_string())),
        };
        if out
            .content_length()
            .is_some_and(|n| n < 0 || n as u64 > MAX_MAIL_BYTES as u64)
        {
            tracing::warn!(%bucket, %key, size = ?out.content_length(), "incoming mail too large: dropped");
            return Ok(None);
        }
        let data = out.body.collect().await.map_err(|e| err(e.to_string()))?;
        Ok(Some(data.into_bytes().to_vec()))
    }
}

/// SES's id of the mail (checked against the outbound record's).
fn ses_id(n: &SesNotification) -> Option<&str> {
    Some(n.mail.message_id.as_str()).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sns_invocations_are_told_from_sqs_batches() {
        let sns =
            serde_json::json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "{}"}}]});
        let sqs = serde_json::json!({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]});
        assert!(is_sns_event(&sns));
        assert!(!is_sns_event(&sqs));
        assert_eq!(sns_messages(&sns), ["{}"]);
    }

    #[test]
    fn the_documented_notifications_are_read() {
        let received: SesNotification = serde_json::from_str(
            r#"{"notificationType":"Received","mail":{"timestamp":"2026-12-01T10:00:00.000Z","source":"a@b.test","messageId":"o3vrnil0e2ic","destination":["in_x@in.test"],"headersTruncated":false,"headers":[{"name":"Message-ID","value":"<r@b.test>"}],"commonHeaders":{"returnPath":"a@b.test","from":["a@b.test"],"to":["in_x@in.test"],"messageId":"<r@b.test>","subject":"Hi"}},
               "receipt":{"timestamp":"2026-12-01T10:00:00.000Z","processingTimeMillis":222,"recipients":["in_x@in.test"],"spamVerdict":{"status":"PASS"},"virusVerdict":{"status":"PASS"},"spfVerdict":{"status":"PASS"},"dkimVerdict":{"status":"PASS"},"dmarcVerdict":{"status":"PASS"},"action":{"type":"S3","topicArn":"arn:aws:sns:us-east-1:1:t","bucketName":"mail","objectKeyPrefix":"inbound/","objectKey":"inbound/o3vrnil0e2ic"}}}"#,
        )
        .unwrap();
        let r = received.receipt.unwrap();
        assert_eq!(r.recipients, ["in_x@in.test"]);
        assert_eq!(r.action.object_key.as_deref(), Some("inbound/o3vrnil0e2ic"));
        let bounce: SesNotification = serde_json::from_str(
            r#"{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"x@y.test","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}],"timestamp":"2026-12-01T10:00:00.000Z","feedbackId":"f"},
               "mail":{"messageId":"ses-1","headers":[{"name":"Message-ID","value":"<out.email-1.in_x@shop.test>"}],"commonHeaders":{}}}"#,
        )
        .unwrap();
        assert_eq!(
            bounce.mail.our_message_id(),
            Some("<out.email-1.in_x@shop.test>")
        );
        assert_eq!(
            bounce.bounce.unwrap().bounced_recipients[0]
                .status
                .as_deref(),
            Some("5.1.1")
        );
    }
}
