//! A robot's message that did not reach its recipient shows on the run
//! that sent it (issue #15, "bounces and failures recorded on the run"):
//! the run's `delivery` says bounced / complained / failed, why and when,
//! once however often the provider repeats itself; a retried message takes
//! it off; a message simply sent writes nothing on its run.

use crate::common;

use chrono::Duration;
use common::*;
use crm_core::inbound::{Feedback, Received};
use crm_core::memory::MemRuntime;
use crm_core::model::{Channel, Outbound, OutboundStatus, RunRecord, RunStatus};
use crm_core::outbound::message_id::message_id_of;
use crm_core::ports::PortError;
use crm_core::robots::Robot;
use serde_json::json;

const DOMAIN: &str = "in.shop.test";
const FROM: &str = "robots@shop.test";

/// The company with an `email_client` robot in `new` (and incoming email
/// on when `inbound`).
async fn emailing_company(inbound: bool) -> (MemRuntime, Robot) {
    let rt = company(MONDAY_1144_MSK).await;
    if inbound {
        rt.engine.set_inbound_domain(DOMAIN);
    }
    let r = robot(
        &rt,
        json!({"stage_id": "new", "type": "email_client",
            "settings": {"subject": "Offer", "text": "<p>Dear {{client.name}}</p>"}}),
    )
    .await;
    (rt, r)
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

async fn the_run(rt: &MemRuntime, item: &str, r: &Robot) -> RunRecord {
    run_of(&runs(rt, item).await, &r.id).clone()
}

fn dsn(reply_to: &str, ours: &str) -> String {
    format!(
        "From: MAILER-DAEMON@mx.test\r\nTo: {reply_to}\r\nSubject: Undelivered\r\n\
Message-ID: <dsn-7@mx.test>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
--B\r\nContent-Type: text/plain\r\n\r\nNot delivered.\r\n\
--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.test\r\n\r\n\
Final-Recipient: rfc822; buyer@romashka.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\
Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n\
--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: {FROM}\r\nMessage-ID: {ours}\r\n--B--\r\n"
    )
}

#[tokio::test]
async fn a_sent_email_names_its_run_and_writes_nothing_on_it() {
    let (rt, r) = emailing_company(true).await;
    let item = deal(&rt, "new", 100.0).await;
    let m = the_email(&rt).await;
    assert_eq!(m.status, OutboundStatus::Sent);
    let run = the_run(&rt, &item.id, &r).await;
    assert_eq!(m.run_id.as_deref(), Some(run.id.as_str()));
    assert_eq!(run.status, RunStatus::Done);
    assert_eq!(run.delivery, None, "{run:#?}");
    assert_eq!(
        run.outputs.get("message_id"),
        Some(&json!(m.id)),
        "the run names its message too"
    );
}

#[tokio::test]
async fn a_bounce_shows_on_the_run_that_sent_the_email_once() {
    let (rt, r) = emailing_company(true).await;
    let item = deal(&rt, "new", 100.0).await;
    let m = the_email(&rt).await;
    let before = the_run(&rt, &item.id, &r).await;
    let report = dsn(m.reply_to.as_deref().unwrap(), &message_id_of(&m, FROM));
    rt.advance(Duration::minutes(5)).await.unwrap();
    let got = rt
        .engine
        .receive_email(report.as_bytes(), &[])
        .await
        .unwrap();
    assert!(
        matches!(got, Received::Feedback { changed: true, .. }),
        "{got:?}"
    );
    let run = the_run(&rt, &item.id, &r).await;
    let d = run.delivery.clone().expect("the run shows the bounce");
    assert_eq!(d.outbound_id, m.id);
    assert_eq!(d.channel, Channel::Email);
    assert_eq!(d.to, "buyer@romashka.test");
    assert_eq!(d.status, OutboundStatus::Bounced);
    assert!(d.reason.contains("550 5.1.1 no such user"), "{d:?}");
    assert_eq!(d.at, before.finished_at.unwrap() + Duration::minutes(5));
    assert_eq!(run.status, RunStatus::Done, "the robot did its part");
    assert_eq!(run.version, before.version + 1);
    assert_eq!(
        serde_json::to_value(&run).unwrap()["delivery"]["status"],
        json!("bounced")
    );

    // The same report again, and a complaint after it: nothing changes.
    rt.advance(Duration::minutes(5)).await.unwrap();
    for _ in 0..2 {
        let again = rt
            .engine
            .receive_email(report.as_bytes(), &[])
            .await
            .unwrap();
        assert!(
            matches!(again, Received::Feedback { changed: false, .. }),
            "{again:?}"
        );
    }
    let late = rt
        .engine
        .outbound_feedback(&message_id_of(&m, FROM), None, Feedback::Complained, "x")
        .await
        .unwrap();
    assert!(
        matches!(late, Received::Feedback { changed: false, .. }),
        "{late:?}"
    );
    assert_eq!(the_run(&rt, &item.id, &r).await, run, "written once");
    let bounced = rt.engine.timeline(T, &item.id).await.unwrap();
    assert_eq!(
        bounced.iter().filter(|e| e.kind == "email_bounced").count(),
        1
    );
}

#[tokio::test]
async fn two_copies_of_a_complaint_at_once_record_it_once() {
    let (rt, r) = emailing_company(true).await;
    let item = deal(&rt, "new", 100.0).await;
    let m = the_email(&rt).await;
    let ours = message_id_of(&m, FROM);
    let provider = m.provider_message_id.clone();
    let (a, b) = tokio::join!(
        rt.engine
            .outbound_feedback(&ours, provider.as_deref(), Feedback::Complained, "abuse"),
        rt.engine
            .outbound_feedback(&ours, provider.as_deref(), Feedback::Complained, "abuse"),
    );
    let changed = [a.unwrap(), b.unwrap()]
        .iter()
        .filter(|g| matches!(g, Received::Feedback { changed: true, .. }))
        .count();
    assert_eq!(changed, 1);
    let run = the_run(&rt, &item.id, &r).await;
    let d = run.delivery.expect("the run shows the complaint");
    assert_eq!(
        (d.status, d.reason.as_str()),
        (OutboundStatus::Complained, "abuse")
    );
    let entries = rt.engine.timeline(T, &item.id).await.unwrap();
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.kind == "email_complained")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_failed_email_shows_on_its_run_until_it_is_retried() {
    let (rt, r) = emailing_company(false).await;
    rt.delivery
        .fail_next(vec![PortError::Rejected("554 blocked".into())]);
    let item = deal(&rt, "new", 100.0).await;
    let m = the_email(&rt).await;
    assert_eq!(m.status, OutboundStatus::Failed);
    let run = the_run(&rt, &item.id, &r).await;
    let d = run.delivery.clone().expect("the run shows the failure");
    assert_eq!(d.status, OutboundStatus::Failed);
    assert_eq!(d.outbound_id, m.id);
    assert_eq!(d.reason, "554 blocked (attempt 1; not retried)");

    rt.engine.retry_outbound(T, &m.id).await.unwrap();
    let queued = the_run(&rt, &item.id, &r).await;
    assert_eq!(queued.delivery, None, "queued again: no failure to show");
    rt.settle().await.unwrap();
    assert_eq!(the_email(&rt).await.status, OutboundStatus::Sent);
    assert_eq!(
        the_run(&rt, &item.id, &r).await,
        queued,
        "sent: nothing more on the run"
    );
}

#[tokio::test]
async fn an_sms_out_of_attempts_shows_on_its_run() {
    let rt = company(MONDAY_1144_MSK).await;
    let r = robot(
        &rt,
        json!({"stage_id": "new", "type": "sms_client", "settings": {"text": "Hi"}}),
    )
    .await;
    rt.delivery.fail_next(
        (0..10)
            .map(|_| PortError::Unavailable("gateway down".into()))
            .collect(),
    );
    let item = deal(&rt, "new", 100.0).await;
    assert_eq!(the_run(&rt, &item.id, &r).await.delivery, None, "retrying");
    rt.advance(Duration::hours(9)).await.unwrap();
    let run = the_run(&rt, &item.id, &r).await;
    let d = run.delivery.expect("the run shows the dead letter");
    assert_eq!(
        (d.channel, d.status),
        (Channel::Sms, OutboundStatus::Failed)
    );
    assert!(d.reason.contains("no retries left"), "{d:?}");
}
