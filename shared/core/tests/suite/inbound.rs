//! Incoming email (issue #15) on the memory runtime: a client's reply to a
//! robot's email (by its `In-Reply-To`) or a new email from the client's
//! address raises `incoming_email` once and the trigger moves the deal;
//! strangers, forged addresses and tags change nothing; bounce reports and
//! complaints mark the message.

use crate::common;

use common::*;
use crm_core::inbound::{Feedback, Received};
use crm_core::memory::MemRuntime;
use crm_core::model::{Channel, Outbound, OutboundStatus};
use crm_core::outbound::message_id::message_id_of;
use serde_json::json;

const DOMAIN: &str = "in.shop.test";
const FROM: &str = "robots@shop.test";

/// The company with an email robot in `new`, an `incoming_email` trigger to
/// `prep`, and incoming email on.
async fn replying_company() -> MemRuntime {
    let rt = company(MONDAY_1144_MSK).await;
    rt.engine.set_inbound_domain(DOMAIN);
    robot(
        &rt,
        json!({"stage_id": "new", "type": "email_client",
            "settings": {"subject": "Offer", "text": "<p>Dear {{client.name}}</p>"}}),
    )
    .await;
    trigger(
        &rt,
        json!({"stage_id": "prep", "type": "incoming_email", "settings": {}}),
    )
    .await;
    rt
}

async fn the_email(rt: &MemRuntime) -> Outbound {
    let all = rt
        .engine
        .list_outbound(T, Some(Channel::Email))
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "{all:#?}");
    all.into_iter().next().unwrap()
}

async fn stage(rt: &MemRuntime, id: &str) -> String {
    rt.engine.get_item(T, id).await.unwrap().stage_id
}

fn mail(from: &str, to: &str, id: &str, in_reply_to: Option<&str>) -> Vec<u8> {
    let reply = in_reply_to
        .map(|r| format!("In-Reply-To: {r}\r\nReferences: {r}\r\n"))
        .unwrap_or_default();
    format!(
        "From: Ivan <{from}>\r\nTo: {to}\r\nSubject: Re: Offer\r\nMessage-ID: <{id}>\r\n{reply}\
Content-Type: text/plain; charset=utf-8\r\n\r\nYes, we agree.\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn a_reply_to_the_robots_email_moves_the_deal_once() {
    let rt = replying_company().await;
    let item = deal(&rt, "new", 100.0).await;
    let m = the_email(&rt).await;
    let reply_to = m
        .reply_to
        .clone()
        .expect("a Reply-To when incoming email is on");
    assert!(
        reply_to.starts_with("in_") && reply_to.ends_with("@in.shop.test"),
        "{reply_to}"
    );
    assert_eq!(
        rt.engine.inbound_address(T).await.unwrap().as_deref(),
        Some(reply_to.as_str()),
        "one address per tenant"
    );
    let ours = message_id_of(&m, FROM);
    assert!(ours.contains(&reply_to[..35]), "{ours}");

    let raw = mail(
        "buyer@romashka.test",
        &reply_to,
        "r1@romashka.test",
        Some(&ours),
    );
    let got = rt
        .engine
        .receive_email(&raw, std::slice::from_ref(&reply_to))
        .await
        .unwrap();
    let Received::Reply {
        tenant,
        item_id,
        outbound_id,
        event_id,
    } = got
    else {
        panic!("{got:?}")
    };
    assert_eq!(
        (tenant.as_str(), item_id.as_str(), outbound_id.as_str()),
        (T, item.id.as_str(), m.id.as_str())
    );
    rt.settle().await.unwrap();
    assert_eq!(stage(&rt, &item.id).await, "prep");
    let record = rt.engine.get_event(T, &event_id).await.unwrap();
    assert_eq!(record.event_type, "incoming_email");

    // Delivered again (the same Message-ID) after the deal was moved back:
    // the same event, nothing moves.
    move_to(&rt, &item.id, "new").await;
    let again = rt
        .engine
        .receive_email(&raw, std::slice::from_ref(&reply_to))
        .await
        .unwrap();
    assert!(
        matches!(&again, Received::Reply { event_id: e, .. } if *e == event_id),
        "{again:?}"
    );
    rt.settle().await.unwrap();
    assert_eq!(stage(&rt, &item.id).await, "new");

    // The reply found its item by the Message-ID alone: sent from another
    // address, to another of our addresses, it still matches.
    let raw = mail(
        "someone@else.test",
        &format!("x@{DOMAIN}"),
        "r2@else.test",
        Some(&ours),
    );
    let got = rt.engine.receive_email(&raw, &[]).await.unwrap();
    assert!(matches!(got, Received::Reply { .. }), "{got:?}");
    rt.settle().await.unwrap();
    assert_eq!(stage(&rt, &item.id).await, "prep");
}

#[tokio::test]
async fn a_new_email_from_the_clients_address_moves_the_clients_deals() {
    let rt = replying_company().await;
    let item = deal(&rt, "new", 100.0).await;
    let address = rt.engine.inbound_address(T).await.unwrap().unwrap();
    let raw = mail("Buyer@Romashka.test", &address, "n1@romashka.test", None);
    let got = rt
        .engine
        .receive_email(&raw, &[address.to_uppercase()])
        .await
        .unwrap();
    assert!(
        matches!(&got, Received::FromClient { tenant, .. } if tenant == T),
        "{got:?}"
    );
    rt.settle().await.unwrap();
    assert_eq!(stage(&rt, &item.id).await, "prep");
}

#[tokio::test]
async fn strangers_forged_addresses_and_tags_change_nothing() {
    let rt = replying_company().await;
    let item = deal(&rt, "new", 100.0).await;
    let m = the_email(&rt).await;
    let address = m.reply_to.clone().unwrap();
    let ours = message_id_of(&m, FROM);
    let forged_address = format!("in_{}@{DOMAIN}", "0".repeat(32));
    let cases: Vec<(Vec<u8>, Vec<String>)> = vec![
        // A stranger writes to the tenant's address.
        (
            mail("stranger@spam.test", &address, "s1@spam.test", None),
            vec![address.clone()],
        ),
        // The client writes to an address that is no tenant's.
        (
            mail("buyer@romashka.test", &forged_address, "s2@x.test", None),
            vec![forged_address.clone()],
        ),
        // The right address at another domain.
        (
            mail("buyer@romashka.test", "x", "s3@x.test", None),
            vec![address.replace(DOMAIN, "evil.test")],
        ),
        // A reply naming our message with a forged tag, or an unknown message.
        (
            mail(
                "stranger@spam.test",
                "x",
                "s4@x.test",
                Some(&ours.replace(&address[3..35], &"f".repeat(32))),
            ),
            vec![],
        ),
        (
            mail(
                "stranger@spam.test",
                &address,
                "s5@x.test",
                Some(&ours.replace(&m.id, "email-nope")),
            ),
            vec![address.clone()],
        ),
        // Not an email at all.
        (b"\x00\x01 not mail".to_vec(), vec![address.clone()]),
    ];
    for (raw, rcpt) in cases {
        let got = rt.engine.receive_email(&raw, &rcpt).await.unwrap();
        assert!(matches!(got, Received::Unmatched { .. }), "{got:?}");
    }
    rt.settle().await.unwrap();
    assert_eq!(stage(&rt, &item.id).await, "new");
    assert_eq!(
        rt.engine
            .inbound_owner(&forged_address[..35])
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn without_an_inbound_domain_emails_carry_no_reply_to_and_no_tag() {
    let rt = company(MONDAY_1144_MSK).await;
    robot(
        &rt,
        json!({"stage_id": "new", "type": "email_client", "settings": {"text": "Hi"}}),
    )
    .await;
    deal(&rt, "new", 100.0).await;
    let m = the_email(&rt).await;
    assert_eq!(m.reply_to, None);
    assert_eq!(message_id_of(&m, FROM), format!("<out.{}@shop.test>", m.id));
    assert_eq!(rt.engine.inbound_address(T).await.unwrap(), None);
    assert_eq!(
        rt.engine.inbound_address_id(T, false).await.unwrap(),
        None,
        "nothing made"
    );
}

#[tokio::test]
async fn a_bounce_report_marks_the_email_bounced_once() {
    let rt = replying_company().await;
    let item = deal(&rt, "new", 100.0).await;
    let m = the_email(&rt).await;
    assert_eq!(m.status, OutboundStatus::Sent);
    let ours = message_id_of(&m, FROM);
    let dsn = format!(
        "From: MAILER-DAEMON@mx.test\r\nTo: {reply_to}\r\nSubject: Undelivered\r\n\
Message-ID: <dsn-1@mx.test>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
--B\r\nContent-Type: text/plain\r\n\r\nNot delivered.\r\n\
--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.test\r\n\r\n\
Final-Recipient: rfc822; buyer@romashka.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\
Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n\
--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: {FROM}\r\nMessage-ID: {ours}\r\n--B--\r\n",
        reply_to = m.reply_to.as_deref().unwrap()
    );
    let got = rt.engine.receive_email(dsn.as_bytes(), &[]).await.unwrap();
    assert_eq!(
        got,
        Received::Feedback {
            tenant: T.into(),
            outbound_id: m.id.clone(),
            status: "bounced".into(),
            changed: true
        }
    );
    let m = the_email(&rt).await;
    assert_eq!(m.status, OutboundStatus::Bounced);
    assert!(m.last_error.as_deref().unwrap().contains("5.1.1"), "{m:?}");
    let timeline = rt.engine.timeline(T, &item.id).await.unwrap();
    assert!(
        timeline.iter().any(|e| e.kind == "email_bounced"),
        "{timeline:#?}"
    );
    let again = rt.engine.receive_email(dsn.as_bytes(), &[]).await.unwrap();
    assert!(
        matches!(again, Received::Feedback { changed: false, .. }),
        "{again:?}"
    );
    let entries = rt.engine.timeline(T, &item.id).await.unwrap();
    assert_eq!(
        entries.iter().filter(|e| e.kind == "email_bounced").count(),
        1
    );
    assert_eq!(stage(&rt, &item.id).await, "new", "a bounce is not a reply");
}

#[tokio::test]
async fn a_complaint_marks_the_email_and_a_wrong_provider_id_changes_nothing() {
    let rt = replying_company().await;
    deal(&rt, "new", 100.0).await;
    let m = the_email(&rt).await;
    let ours = message_id_of(&m, FROM);
    let got = rt
        .engine
        .outbound_feedback(&ours, Some("another-ses-id"), Feedback::Complained, "abuse")
        .await
        .unwrap();
    assert!(matches!(got, Received::Unmatched { .. }), "{got:?}");
    assert_eq!(the_email(&rt).await.status, OutboundStatus::Sent);
    let provider = m.provider_message_id.clone();
    let got = rt
        .engine
        .outbound_feedback(&ours, provider.as_deref(), Feedback::Complained, "abuse")
        .await
        .unwrap();
    assert!(
        matches!(got, Received::Feedback { changed: true, .. }),
        "{got:?}"
    );
    let m = the_email(&rt).await;
    assert_eq!(m.status, OutboundStatus::Complained);
    let untagged = format!("<out.{}@shop.test>", m.id);
    let got = rt
        .engine
        .outbound_feedback(&untagged, None, Feedback::Bounced, "x")
        .await
        .unwrap();
    assert!(matches!(got, Received::Unmatched { .. }), "{got:?}");
}

#[tokio::test]
async fn each_tenant_has_its_own_address_and_a_client_of_one_is_a_stranger_to_another() {
    let rt = replying_company().await;
    let item = deal(&rt, "new", 100.0).await;
    let other = "other-tenant";
    let a = rt.engine.inbound_address(T).await.unwrap().unwrap();
    let b = rt.engine.inbound_address(other).await.unwrap().unwrap();
    assert_ne!(a, b);
    assert_eq!(
        rt.engine.inbound_owner(&b[..35]).await.unwrap().as_deref(),
        Some(other)
    );
    let raw = mail("buyer@romashka.test", &b, "x1@romashka.test", None);
    let got = rt
        .engine
        .receive_email(&raw, std::slice::from_ref(&b))
        .await
        .unwrap();
    assert!(matches!(got, Received::Unmatched { .. }), "{got:?}");
    rt.settle().await.unwrap();
    assert_eq!(stage(&rt, &item.id).await, "new");
}
