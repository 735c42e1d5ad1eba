//! Email and SMS out on the AWS function set (issue #15), on LocalStack:
//! the robots' email goes through Amazon SES `SendRawEmail` (raw MIME with the
//! deterministic `Message-ID`; the SES `MessageId` is kept on the outbound
//! record) and their SMS through Amazon SNS `Publish` to the client's
//! number in E.164 form. LocalStack shows what it "sent" at `GET /_aws/ses`
//! and `GET /_aws/sns/sms-messages`. An email with documents carries their
//! files (the PDF read from S3) as attachments.

use std::sync::Arc;

use crm_aws::senders::{SesSender, SnsSms};
use crm_core::model::{Channel, OutboundStatus};
use crm_core::outbound::router::ChannelDelivery;
use crm_core::testing::{MONDAY_1144_MSK, at, body};
use crm_tests::aws_rig::{AwsRig, rig_ports};
use serde_json::{Value, json};

/// The emulator the rig talks to (`AWS_ENDPOINT_URL`, else LocalStack's
/// default port), whose `_aws/…` inspection endpoints show what was sent.
fn localstack() -> String {
    std::env::var("AWS_ENDPOINT_URL")
        .map(|u| u.trim_end_matches('/').to_string())
        .unwrap_or_else(|_| "http://127.0.0.1:4566".to_string())
}

async fn inspect(path: &str) -> Value {
    reqwest::get(format!("{}{path}", localstack()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_robots_email_goes_through_ses_and_their_sms_through_sns() {
    let ports = rig_ports("senders").await;
    let sdk = ports.config.sdk_config().await;
    let from = format!(
        "CRM Robots <{}@shop.test>",
        crm_aws::testing::unique_name("robots")
    );
    let ses = SesSender::new(&sdk, &from).unwrap();
    ses.verify_sender().await.unwrap();
    let sender = ses.address();
    let delivery = ChannelDelivery::new()
        .with_email(Arc::new(ses))
        .with_sms(Arc::new(SnsSms::new(&sdk)));
    let rig = AwsRig::with_delivery(ports, at(MONDAY_1144_MSK), 0, Arc::new(delivery)).await;
    let t = rig.tenant.clone();
    for put in crm_core::testing::company() {
        put.apply(&rig.engine, &t).await.unwrap();
    }
    for robot in [
        json!({"stage_id": "new", "type": "email_client", "settings": {
            "subject": "Offer for {{client.name}}", "text": "<p>Dear {{client.name}}</p>"}}),
        json!({"stage_id": "new", "type": "sms_client", "settings": {
            "text": "Thanks, {{client.name}}"}}),
    ] {
        rig.engine
            .create_robot(&t, "deals", body(robot))
            .await
            .unwrap();
    }
    // A unique number, so this test finds its own SMS.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let phone = format!("+1 (555) {:07}", nanos % 10_000_000);
    let mut deal = crm_core::testing::deal("new", 100.0);
    deal["client"]["phone"] = json!(phone);
    let item = rig.engine.create_item(&t, body(deal)).await.unwrap();
    // The stream is asynchronous: settle until both messages are final.
    let mut out = Vec::new();
    for _ in 0..60 {
        rig.settle().await;
        out = rig.engine.list_outbound(&t, None).await.unwrap();
        if out.len() == 2 && out.iter().all(|m| m.status == OutboundStatus::Sent) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let email = out
        .iter()
        .find(|m| m.channel == Channel::Email)
        .unwrap_or_else(|| panic!("{out:#?}"));
    let sms = out.iter().find(|m| m.channel == Channel::Sms).unwrap();
    assert_eq!(email.status, OutboundStatus::Sent, "{email:#?}");
    assert_eq!(sms.status, OutboundStatus::Sent, "{sms:#?}");
    assert_eq!(email.item_id.as_deref(), Some(item.id.as_str()));

    // SES got the raw email from the verified sender, with our Message-ID.
    let ses_id = email
        .provider_message_id
        .clone()
        .expect("the SES MessageId");
    let sent = inspect(&format!("/_aws/ses?email={sender}")).await;
    let messages = sent["messages"].as_array().cloned().unwrap_or_default();
    let m = messages
        .iter()
        .find(|m| m["Id"] == ses_id.as_str())
        .unwrap_or_else(|| panic!("{ses_id} not in {sent:#}"));
    let raw = m["RawData"].as_str().unwrap_or_default();
    let domain_id = format!("<out.{}@shop.test>", email.id);
    assert!(raw.contains(&format!("Message-ID: {domain_id}")), "{m:#}");
    assert!(raw.contains("Subject: Offer for Romashka LLC"), "{m:#}");
    assert!(raw.contains("buyer@romashka.test"), "{m:#}");

    // SNS got the SMS for the number in E.164 form.
    let e164 = crm_aws::senders::e164(&phone).unwrap();
    let sms_sent = inspect(&format!(
        "/_aws/sns/sms-messages?phoneNumber={}",
        e164.replace('+', "%2B")
    ))
    .await;
    let texts: Vec<&Value> = sms_sent["sms_messages"][&e164]
        .as_array()
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    assert!(
        texts.iter().any(|s| s["Message"] == "Thanks, Romashka LLC"),
        "{sms_sent:#}"
    );
    assert!(sms.provider_message_id.is_some(), "{sms:#?}");
    rig.teardown().await;
}

/// Documents attached by the email robot travel in the SES raw email: the
/// invoice's PDF (read from S3 when the message is sent) as an attachment
/// of a `multipart/mixed` message, byte for byte.
#[tokio::test]
async fn the_documents_pdf_travels_in_the_ses_raw_email() {
    use crm_core::documents::{FileFormat, NumeratorBody, sample};
    use mail_parser::{MessageParser, MimeHeaders};

    let ports = rig_ports("senders-files").await;
    let sdk = ports.config.sdk_config().await;
    let from = format!(
        "CRM Robots <{}@shop.test>",
        crm_aws::testing::unique_name("invoices")
    );
    let ses = SesSender::new(&sdk, &from).unwrap();
    ses.verify_sender().await.unwrap();
    let sender = ses.address();
    let delivery = ChannelDelivery::new().with_email(Arc::new(ses));
    let rig = AwsRig::with_delivery(ports, at(MONDAY_1144_MSK), 0, Arc::new(delivery)).await;
    // The documents' files go to S3: the bucket must be there when this test runs alone.
    rig.ports.blobs.ensure_bucket().await.unwrap();
    let t = rig.tenant.clone();
    for put in crm_core::testing::company() {
        put.apply(&rig.engine, &t).await.unwrap();
    }
    let template = rig
        .engine
        .create_template(&t, "Invoice", "invoice.docx", sample::invoice())
        .await
        .unwrap();
    let numerator = rig
        .engine
        .create_numerator(
            &t,
            body::<NumeratorBody>(
                json!({"name": "Invoices", "template": "INV-{NUMBER}", "padding": 3}),
            ),
        )
        .await
        .unwrap();
    let doc_robot = rig
        .engine
        .create_robot(
            &t,
            "deals",
            body(json!({"stage_id": "new", "type": "create_document", "settings": {
                "template_id": template.id, "numerator_id": numerator.id, "formats": ["docx", "pdf"]}})),
        )
        .await
        .unwrap();
    rig.engine
        .create_robot(
            &t,
            "deals",
            body(json!({"stage_id": "new", "type": "email_client", "after_previous": true,
                "settings": {"subject": "Invoice {{robot.".to_string() + &doc_robot.id + ".number}}",
                    "text": "The invoice is attached.",
                    "attachments": [format!("{{{{robot.{}.document_id}}}}", doc_robot.id)]}})),
        )
        .await
        .unwrap();
    let item = rig
        .engine
        .create_item(&t, body(crm_core::testing::deal("new", 25_000.0)))
        .await
        .unwrap();
    let mut out = Vec::new();
    for _ in 0..60 {
        rig.settle().await;
        out = rig
            .engine
            .list_outbound(&t, Some(Channel::Email))
            .await
            .unwrap();
        if out.len() == 1 && out[0].status == OutboundStatus::Sent {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let email = out.first().unwrap_or_else(|| panic!("{out:#?}"));
    assert_eq!(email.status, OutboundStatus::Sent, "{email:#?}");
    let docs = rig
        .engine
        .list_documents(&t, &item.id, None, None)
        .await
        .unwrap()
        .records;
    assert_eq!(email.attachments, vec![docs[0].id.clone()]);
    let (_, pdf) = rig
        .engine
        .document_file(&t, &docs[0].id, FileFormat::Pdf)
        .await
        .unwrap();

    let ses_id = email
        .provider_message_id
        .clone()
        .expect("the SES MessageId");
    let sent = inspect(&format!("/_aws/ses?email={sender}")).await;
    let m = sent["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .find(|m| m["Id"] == ses_id.as_str())
        .unwrap_or_else(|| panic!("{ses_id} not in {sent:#}"));
    let raw = m["RawData"].as_str().unwrap_or_default();
    let parsed = MessageParser::default()
        .parse(raw.as_bytes())
        .unwrap_or_else(|| panic!("not MIME: {raw}"));
    assert_eq!(parsed.subject(), Some("Invoice INV-001"));
    let root = parsed.root_part().content_type().unwrap();
    assert_eq!((root.ctype(), root.subtype()), ("multipart", Some("mixed")));
    assert_eq!(parsed.attachment_count(), 1, "{raw}");
    let file = parsed.attachment(0).unwrap();
    assert_eq!(file.attachment_name(), Some("Invoice INV-001.pdf"));
    let ct = file.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("application", Some("pdf")));
    assert!(pdf.starts_with(b"%PDF"));
    assert_eq!(file.contents(), pdf.as_slice(), "the document's bytes");
    rig.teardown().await;
}
