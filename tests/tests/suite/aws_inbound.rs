//! Incoming email and SES feedback (issue #15) on the AWS function set
//! (LocalStack, `s3` in SERVICES): the runner composes the robot's email
//! with the tenant's inbound address as `Reply-To` (kept in DynamoDB); the
//! client's reply is stored in S3 as SES's receipt rule does, and the
//! trigger-eval function, invoked with the documented SNS delivery of the
//! `Received` notification, raises `incoming_email` — trigger-eval moves
//! the deal; a duplicate notification raises nothing more. A `Bounce`
//! notification marks the email `bounced` and shows on the run that sent
//! it, once however often SNS delivers it.

use crm_core::blob_store::{BlobKey, BlobStore};
use crm_core::model::{Channel, OutboundStatus};
use crm_core::outbound::message_id::message_id_of;
use crm_core::testing::{MONDAY_1144_MSK, at, body};
use crm_fn_trigger_eval::handle_invocation;
use crm_tests::aws_rig::AwsRig;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};

const DOMAIN: &str = "in.shop.example";

/// The SNS delivery of one SES notification, as Lambda hands it over.
fn sns_event(notification: &Value) -> LambdaEvent<Value> {
    let payload = json!({"Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:000000000000:inbound:1",
        "Sns": {
            "Type": "Notification",
            "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
            "TopicArn": "arn:aws:sns:us-east-1:000000000000:inbound",
            "Subject": "Amazon SES Email Receipt Notification",
            "Message": notification.to_string(),
            "Timestamp": "2026-11-23T08:45:00.000Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLE",
            "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/x.pem",
            "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
            "MessageAttributes": {}
        }
    }]});
    LambdaEvent::new(payload, Context::default())
}

#[tokio::test]
async fn a_reply_stored_by_ses_moves_the_deal_and_a_bounce_marks_the_email() {
    let rig = AwsRig::new("inbound", at(MONDAY_1144_MSK)).await;
    rig.ports.blobs.ensure_bucket().await.unwrap_or_else(|e| {
        panic!("LocalStack must run with s3 in SERVICES (infra/localstack.sh): {e}")
    });
    crm_core::testing::load(&rig.engine, &rig.tenant)
        .await
        .expect("the company loads");
    rig.engine.set_inbound_domain(DOMAIN);
    let t = rig.tenant.clone();
    rig.engine
        .create_robot(
            &t,
            "deals",
            body(json!({"stage_id": "new", "type": "email_client",
                "settings": {"subject": "Offer", "text": "Here is our offer."}})),
        )
        .await
        .unwrap();
    rig.engine
        .create_trigger(
            &t,
            "deals",
            body(json!({"stage_id": "prep", "type": "incoming_email"})),
        )
        .await
        .unwrap();
    let item = rig
        .engine
        .create_item(&t, body(crm_core::testing::deal("new", 1.0)))
        .await
        .unwrap();
    rig.settle().await;
    let emails = rig
        .engine
        .list_outbound(&t, Some(Channel::Email))
        .await
        .unwrap();
    assert_eq!(emails.len(), 1);
    let sent = &emails[0];
    let reply_to = sent.reply_to.clone().expect("Reply-To when inbound is on");
    let ours = message_id_of(sent, "robots@shop.example");

    // SES stores the reply in S3 and notifies.
    let ses_id = format!("ses-{}", &item.id);
    let key = BlobKey::new("inbound", &ses_id).unwrap();
    let raw = format!(
        "From: Ivan <ivan@romashka.test>\r\nTo: {reply_to}\r\nSubject: Re: Offer\r\n\
Message-ID: <reply-{id}@romashka.test>\r\nIn-Reply-To: {ours}\r\nReferences: {ours}\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nWe agree.\r\n",
        id = item.id
    );
    rig.ports
        .blobs
        .put(&key, raw.into_bytes(), "message/rfc822")
        .await
        .unwrap();
    let received = json!({
        "notificationType": "Received",
        "mail": {
            "timestamp": "2026-11-23T08:44:59.000Z",
            "source": "ivan@romashka.test",
            "messageId": ses_id,
            "destination": [reply_to],
            "headersTruncated": false,
            "headers": [{"name": "Message-ID", "value": format!("<reply-{}@romashka.test>", item.id)}],
            "commonHeaders": {"from": ["Ivan <ivan@romashka.test>"], "to": [reply_to], "subject": "Re: Offer"}
        },
        "receipt": {
            "timestamp": "2026-11-23T08:44:59.000Z",
            "processingTimeMillis": 120,
            "recipients": [reply_to],
            "spamVerdict": {"status": "PASS"},
            "virusVerdict": {"status": "PASS"},
            "spfVerdict": {"status": "PASS"},
            "dkimVerdict": {"status": "PASS"},
            "dmarcVerdict": {"status": "PASS"},
            "action": {
                "type": "S3",
                "topicArn": "arn:aws:sns:us-east-1:000000000000:inbound",
                "bucketName": rig.ports.blobs.bucket(),
                "objectKeyPrefix": "inbound/",
                "objectKey": key.as_string()
            }
        }
    });
    let s3 = rig.ports.clients.s3.clone();
    let out = handle_invocation(&rig.engine, &s3, sns_event(&received))
        .await
        .unwrap();
    assert_eq!(out["handled"][0]["outcome"], "reply", "{out:#}");
    rig.settle().await;
    let stage = || async { rig.engine.get_item(&t, &item.id).await.unwrap().stage_id };
    assert_eq!(stage().await, "prep");

    // The same notification again (SNS delivers at least once), after the
    // deal was moved back: the same event, nothing moves.
    rig.engine
        .patch_item(&t, &item.id, body(json!({"stage_id": "new"})), None)
        .await
        .unwrap();
    rig.settle().await;
    let again = handle_invocation(&rig.engine, &s3, sns_event(&received))
        .await
        .unwrap();
    assert_eq!(
        again["handled"][0]["event_id"], out["handled"][0]["event_id"],
        "{again:#}"
    );
    rig.settle().await;
    assert_eq!(stage().await, "new");

    // Spam by SES's verdict is dropped.
    let mut spam = received.clone();
    spam["receipt"]["spamVerdict"]["status"] = json!("FAIL");
    let out = handle_invocation(&rig.engine, &s3, sns_event(&spam))
        .await
        .unwrap();
    assert_eq!(out["handled"][0]["outcome"], "unmatched", "{out:#}");

    // A permanent bounce of the robot's email.
    let provider = sent.provider_message_id.clone().unwrap_or_default();
    let bounce = json!({
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": "buyer@romashka.test", "action": "failed",
                "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
            "timestamp": "2026-11-23T08:46:00.000Z",
            "feedbackId": "0100-feedback"
        },
        "mail": {
            "timestamp": "2026-11-23T08:44:00.000Z",
            "source": "robots@shop.example",
            "messageId": provider,
            "destination": ["buyer@romashka.test"],
            "headers": [{"name": "Message-ID", "value": ours}],
            "commonHeaders": {"messageId": ours}
        }
    });
    let out = handle_invocation(&rig.engine, &s3, sns_event(&bounce))
        .await
        .unwrap();
    assert_eq!(out["handled"][0]["outcome"], "feedback", "{out:#}");
    let m = rig
        .engine
        .list_outbound(&t, Some(Channel::Email))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(m.status, OutboundStatus::Bounced, "{m:#?}");
    assert!(m.last_error.unwrap().contains("5.1.1"));

    // The run that sent it shows the bounce (GET /v1/items/{id}/runs).
    let email_run = || async {
        let runs = rig.engine.runs(&t, &item.id).await.unwrap();
        runs.into_iter()
            .find(|r| r.robot_type.as_deref() == Some("email_client"))
            .expect("the email robot's run")
    };
    let run = email_run().await;
    assert_eq!(m.run_id.as_deref(), Some(run.id.as_str()));
    let d = run.delivery.clone().expect("the run shows the bounce");
    assert_eq!(
        (d.status, d.outbound_id.as_str(), d.to.as_str()),
        (
            OutboundStatus::Bounced,
            m.id.as_str(),
            "buyer@romashka.test"
        )
    );
    assert!(d.reason.contains("550 5.1.1 user unknown"), "{d:?}");

    // SNS delivers it again, and a complaint comes late: nothing changes.
    let out = handle_invocation(&rig.engine, &s3, sns_event(&bounce))
        .await
        .unwrap();
    assert_eq!(out["handled"][0]["changed"], false, "{out:#}");
    let mut complaint = bounce.clone();
    complaint["notificationType"] = json!("Complaint");
    complaint["complaint"] = json!({"complainedRecipients": [{"emailAddress": "buyer@romashka.test"}],
        "timestamp": "2026-11-23T08:47:00.000Z", "feedbackId": "0100-complaint",
        "complaintFeedbackType": "abuse"});
    handle_invocation(&rig.engine, &s3, sns_event(&complaint))
        .await
        .unwrap();
    assert_eq!(email_run().await, run, "recorded once");
    let bounces = rig
        .engine
        .timeline(&t, &item.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "email_bounced")
        .count();
    assert_eq!(bounces, 1);
    rig.teardown().await;
}
