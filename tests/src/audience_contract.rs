//! The audiences port's store adapter ([`StoreAudiences`]) over a real
//! store adapter: memberships and member counts kept through the
//! [`DocStore`] must behave the same on memory, SQLite and DynamoDB — a
//! change applied twice counts once, concurrent changes of one audience all
//! count, tenants are apart, and the engine's pages list every member once.
//! Like [`crate::contract`], each check works in tenants derived from a prefix.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use crm_core::audiences::{
    AudienceChange, AudienceOp, Audiences, HashedContacts, StoreAudiences, sha256_hex,
};
use crm_core::engine::{Engine, PageRequest};
use crm_core::ports::DocStore;

use crate::contract_engine::engine;

fn change(tenant: &str, op: AudienceOp, audience: &str, item: &str) -> AudienceChange {
    AudienceChange {
        tenant: tenant.to_string(),
        run_id: format!("{item}:1:r-{audience}"),
        op,
        network: "facebook".to_string(),
        audience_id: audience.to_string(),
        item_id: item.to_string(),
        contacts: HashedContacts {
            phone_sha256: Some(sha256_hex(item)),
            email_sha256: None,
        },
        at: Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap(),
    }
}

async fn count(e: &Engine, tenant: &str, audience: &str) -> Option<u64> {
    let page = e
        .audiences_page(tenant, &PageRequest::new(Some(200), None))
        .await
        .expect("audiences list");
    page.items
        .iter()
        .find(|a| a.audience_id == audience)
        .map(|a| a.member_count)
}

async fn members(e: &Engine, tenant: &str, audience: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut req = PageRequest::new(Some(2), None);
    loop {
        let p = e
            .audience_members_page(tenant, "facebook", audience, &req)
            .await
            .expect("members list");
        out.extend(p.items.into_iter().map(|m| m.item_id));
        match p.next_cursor {
            Some(c) => req = PageRequest::new(Some(2), Some(c)),
            None => return out,
        }
    }
}

/// Every check of the audiences store adapter.
pub async fn run_all_audiences(store: Arc<dyn DocStore>, tenant: &str) {
    repeated_changes_count_once(store.clone(), &format!("{tenant}-once")).await;
    concurrent_adds_all_count(store.clone(), &format!("{tenant}-conc")).await;
    tenants_are_apart(store, &format!("{tenant}-iso")).await;
}

/// Add, add again, remove, remove again: one member, then none.
pub async fn repeated_changes_count_once(store: Arc<dyn DocStore>, tenant: &str) {
    let a = StoreAudiences::new(store.clone());
    let e = engine(store);
    for item in ["i-1", "i-2", "i-3"] {
        a.apply(&change(tenant, AudienceOp::Add, "aud", item))
            .await
            .unwrap();
    }
    a.apply(&change(tenant, AudienceOp::Add, "aud", "i-1"))
        .await
        .unwrap();
    assert_eq!(
        count(&e, tenant, "aud").await,
        Some(3),
        "an add applied twice counts once"
    );
    assert_eq!(
        members(&e, tenant, "aud").await,
        ["i-1", "i-2", "i-3"],
        "paged once each"
    );
    a.apply(&change(tenant, AudienceOp::Remove, "aud", "i-2"))
        .await
        .unwrap();
    a.apply(&change(tenant, AudienceOp::Remove, "aud", "i-2"))
        .await
        .unwrap();
    assert_eq!(
        count(&e, tenant, "aud").await,
        Some(2),
        "a removal applied twice counts once"
    );
    assert_eq!(members(&e, tenant, "aud").await, ["i-1", "i-3"]);
    a.apply(&change(tenant, AudienceOp::Remove, "other", "i-9"))
        .await
        .unwrap();
    assert_eq!(
        count(&e, tenant, "other").await,
        None,
        "removing a non-member makes no audience"
    );
}

/// Adds of different items to one audience at once: each one counts.
pub async fn concurrent_adds_all_count(store: Arc<dyn DocStore>, tenant: &str) {
    let a = Arc::new(StoreAudiences::new(store.clone()));
    let mut tasks = Vec::new();
    for i in 0..8 {
        let a = a.clone();
        let c = change(tenant, AudienceOp::Add, "busy", &format!("i-{i}"));
        tasks.push(tokio::spawn(async move { a.apply(&c).await }));
    }
    for t in tasks {
        t.await.unwrap().expect("every add lands");
    }
    let e = engine(store);
    assert_eq!(
        count(&e, tenant, "busy").await,
        Some(8),
        "no lost update of the count"
    );
    assert_eq!(members(&e, tenant, "busy").await.len(), 8);
}

/// One tenant's audience is invisible to another.
pub async fn tenants_are_apart(store: Arc<dyn DocStore>, tenant: &str) {
    let a = StoreAudiences::new(store.clone());
    let other = format!("{tenant}-b");
    a.apply(&change(tenant, AudienceOp::Add, "mine", "i-1"))
        .await
        .unwrap();
    let e = engine(store);
    assert_eq!(count(&e, &other, "mine").await, None);
    assert!(
        e.audience_members_page(&other, "facebook", "mine", &PageRequest::new(None, None))
            .await
            .is_err(),
        "another tenant's audience is not found"
    );
}
