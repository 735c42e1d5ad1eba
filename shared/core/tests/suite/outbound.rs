//! Outbound email/SMS delivery (issue #15) on the memory runtime with a
//! recording fake provider: retries on timers, the dead letter, at most
//! once per record, and the retry of a failed message.

use crate::common;

use chrono::Duration;
use common::*;
use crm_core::engine::PageRequest;
use crm_core::error::EngineError;
use crm_core::memory::MemRuntime;
use crm_core::model::{Channel, Outbound, OutboundStatus};
use crm_core::ports::{Clock, Cond, DocKey, DocStore, Kind, PortError, Write};
use serde_json::json;

async fn emailing_company() -> MemRuntime {
    let rt = company(MONDAY_1144_MSK).await;
    robot(
        &rt,
        json!({"stage_id": "new", "type": "email_client",
            "settings": {"subject": "Offer", "text": "<p>Dear {{client.name}}</p>"}}),
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

fn down(n: usize) -> Vec<PortError> {
    (0..n)
        .map(|_| PortError::Unavailable("421 try later".into()))
        .collect()
}

#[tokio::test]
async fn a_transient_failure_is_retried_on_a_timer_until_it_is_sent() {
    let rt = emailing_company().await;
    rt.delivery.fail_next(down(2));
    let start = rt.clock.now();
    deal(&rt, "new", 100.0).await;
    let m = the_email(&rt).await;
    assert_eq!(m.status, OutboundStatus::Queued, "{m:#?}");
    assert_eq!(m.attempts, 1);
    assert_eq!(m.last_error.as_deref(), Some("421 try later"));
    assert_eq!(m.next_attempt_at, Some(start + Duration::seconds(60)));
    rt.advance(Duration::seconds(59)).await.unwrap();
    assert_eq!(rt.delivery.calls().len(), 1, "not before its time");
    rt.advance(Duration::seconds(1)).await.unwrap();
    let m = the_email(&rt).await;
    assert_eq!((m.status, m.attempts), (OutboundStatus::Queued, 2));
    assert_eq!(m.next_attempt_at, Some(start + Duration::seconds(360)));
    rt.advance(Duration::seconds(300)).await.unwrap();
    let m = the_email(&rt).await;
    assert_eq!(m.status, OutboundStatus::Sent, "{m:#?}");
    assert_eq!(m.attempts, 3);
    assert_eq!(m.provider_message_id, Some(format!("mem-{}", m.id)));
    assert_eq!(m.sent_at, Some(start + Duration::seconds(360)));
    assert_eq!(m.next_attempt_at, None);
    assert_eq!(rt.delivery.calls().len(), 3);
    assert_eq!(rt.delivery.delivered().len(), 1);
}

#[tokio::test]
async fn a_rejected_message_fails_at_once_and_shows_in_the_dead_letter_and_the_timeline() {
    let rt = emailing_company().await;
    rt.delivery
        .fail_next(vec![PortError::Rejected("550 no such mailbox".into())]);
    let item = deal(&rt, "new", 100.0).await;
    let m = the_email(&rt).await;
    assert_eq!(m.status, OutboundStatus::Failed, "{m:#?}");
    assert_eq!(
        m.last_error.as_deref(),
        Some("550 no such mailbox (attempt 1; not retried)")
    );
    let failed = rt
        .engine
        .outbound_page(
            T,
            None,
            Some(OutboundStatus::Failed),
            &PageRequest::new(None, None),
        )
        .await
        .unwrap();
    assert_eq!(failed.items.len(), 1);
    let sent = rt
        .engine
        .outbound_page(
            T,
            None,
            Some(OutboundStatus::Sent),
            &PageRequest::new(None, None),
        )
        .await
        .unwrap();
    assert!(sent.items.is_empty());
    let timeline = rt.engine.timeline(T, &item.id).await.unwrap();
    let entry = timeline
        .iter()
        .find(|e| e.kind == "delivery_failed")
        .unwrap_or_else(|| panic!("{timeline:#?}"));
    assert_eq!(
        entry.text,
        format!(
            "Email to {} failed: 550 no such mailbox (attempt 1; not retried)",
            m.to
        )
    );
    rt.advance(Duration::days(2)).await.unwrap();
    assert_eq!(
        rt.delivery.calls().len(),
        1,
        "a failed message is left alone"
    );
}

#[tokio::test]
async fn an_exhausted_budget_fails_after_six_attempts() {
    let rt = emailing_company().await;
    rt.delivery.fail_next(down(10));
    deal(&rt, "new", 100.0).await;
    rt.advance(Duration::hours(9)).await.unwrap();
    let m = the_email(&rt).await;
    assert_eq!(m.status, OutboundStatus::Failed, "{m:#?}");
    assert_eq!(m.attempts, 6);
    assert!(
        m.last_error.as_deref().unwrap().contains("no retries left"),
        "{m:#?}"
    );
    assert_eq!(rt.delivery.calls().len(), 6);
}

#[tokio::test]
async fn a_repeated_outbox_record_sends_once() {
    let rt = emailing_company().await;
    let item = rt
        .engine
        .create_item(T, body(crm_core::testing::deal("new", 100.0)))
        .await
        .unwrap();
    // Run the robot by hand up to the message's outbox record.
    let mut replay = None;
    for _ in 0..10 {
        for d in rt.engine.pending_outbox().await.unwrap() {
            if d.key.id.contains("|deliver|") {
                replay = Some(d);
            } else {
                rt.engine.process_outbox(d).await.unwrap();
            }
        }
        while let Some(e) = rt.events.pop() {
            rt.engine.handle_event(e).await.unwrap();
        }
        while let Some(j) = rt.jobs.pop_due(rt.clock.now()) {
            rt.engine.run_job(j).await.unwrap();
        }
        if replay.is_some() {
            break;
        }
    }
    let record = replay.expect("the message's outbox record");
    // Two processors take the same record at once, then it is replayed.
    let (a, b) = tokio::join!(
        rt.engine.process_outbox(record.clone()),
        rt.engine.process_outbox(record.clone())
    );
    a.unwrap();
    b.unwrap();
    rt.engine.process_outbox(record).await.unwrap();
    rt.settle().await.unwrap();
    assert_eq!(rt.delivery.calls().len(), 1, "{:?}", rt.delivery.calls());
    assert_eq!(the_email(&rt).await.status, OutboundStatus::Sent);
    assert!(rt.engine.get_item(T, &item.id).await.is_ok());
}

#[tokio::test]
async fn a_message_left_sending_is_tried_again_only_after_its_lease() {
    let rt = emailing_company().await;
    rt.delivery.fail_next(down(1));
    deal(&rt, "new", 100.0).await;
    let m = the_email(&rt).await;
    // As if a process had claimed the next attempt and died before the commit.
    let key = DocKey::new(T, Kind::Outbound, &m.id);
    let mut doc = rt.store.get(&key).await.unwrap().unwrap();
    let lease_end = rt.clock.now() + Duration::seconds(600);
    doc.body["status"] = json!("sending");
    doc.body["next_attempt_at"] = json!(lease_end.to_rfc3339());
    let v = doc.version;
    doc.version += 1;
    rt.store
        .transact(vec![Write::Put {
            doc,
            cond: Cond::Version(v),
        }])
        .await
        .unwrap();
    rt.engine.deliver_outbound(T, &m.id).await.unwrap();
    rt.advance(Duration::seconds(599)).await.unwrap();
    assert_eq!(rt.delivery.calls().len(), 1, "the lease holds");
    rt.advance(Duration::seconds(1)).await.unwrap();
    let m = the_email(&rt).await;
    assert_eq!(m.status, OutboundStatus::Sent, "{m:#?}");
    assert_eq!(rt.delivery.calls().len(), 2);
}

#[tokio::test]
async fn a_failed_message_can_be_retried_and_only_a_failed_one() {
    let rt = emailing_company().await;
    rt.delivery
        .fail_next(vec![PortError::Rejected("554 blocked".into())]);
    deal(&rt, "new", 100.0).await;
    let m = the_email(&rt).await;
    assert_eq!(m.status, OutboundStatus::Failed);
    let unknown = rt.engine.retry_outbound(T, "email-none").await.unwrap_err();
    assert!(
        matches!(unknown, EngineError::NotFound { .. }),
        "{unknown:?}"
    );
    let other = rt
        .engine
        .retry_outbound("other-tenant", &m.id)
        .await
        .unwrap_err();
    assert!(matches!(other, EngineError::NotFound { .. }), "{other:?}");
    let again = rt.engine.retry_outbound(T, &m.id).await.unwrap();
    assert_eq!((again.status, again.attempts), (OutboundStatus::Queued, 0));
    rt.settle().await.unwrap();
    let m = the_email(&rt).await;
    assert_eq!(m.status, OutboundStatus::Sent, "{m:#?}");
    assert_eq!(m.attempts, 1);
    let not_failed = rt.engine.retry_outbound(T, &m.id).await.unwrap_err();
    assert!(
        matches!(not_failed, EngineError::Conflict(_)),
        "{not_failed:?}"
    );
    assert_eq!(rt.delivery.calls().len(), 2);
}
