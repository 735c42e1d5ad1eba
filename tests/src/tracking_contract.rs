//! The tenants' email tracking keys (issue #15, `Kind::TrackingKey`) over a
//! real store adapter: made once on first use and read back the same by
//! another process (engine), one key when first uses race, tenants apart —
//! and a token verifies only under its own tenant's key. Like
//! [`crate::contract`], each check works in tenants derived from a prefix.

use std::sync::Arc;

use crm_core::ports::DocStore;
use crm_core::tracking::{TrackError, TrackKind, TrackToken};

use crate::contract_engine::engine;

/// Run every tracking-key check.
pub async fn run_all_tracking(store: Arc<dyn DocStore>, tenant: &str) {
    made_once_and_read_back(store.clone(), &format!("{tenant}-once")).await;
    racing_first_uses_agree(store.clone(), &format!("{tenant}-race")).await;
    tokens_verify_only_under_their_tenant(store, &format!("{tenant}-iso")).await;
}

/// No key until asked to make one; then the same key from every engine.
pub async fn made_once_and_read_back(store: Arc<dyn DocStore>, tenant: &str) {
    let a = engine(store.clone());
    assert_eq!(a.tracking_key(tenant, false).await.unwrap(), None);
    let key = a.tracking_key(tenant, true).await.unwrap().unwrap();
    assert_eq!(key.len(), 32, "256 bits");
    assert_eq!(
        a.tracking_key(tenant, true).await.unwrap(),
        Some(key.clone())
    );
    let b = engine(store);
    assert_eq!(
        b.tracking_key(tenant, false).await.unwrap(),
        Some(key.clone())
    );
    assert_eq!(b.tracking_key(tenant, true).await.unwrap(), Some(key));
}

/// Eight processes making the first key at once end with one key.
pub async fn racing_first_uses_agree(store: Arc<dyn DocStore>, tenant: &str) {
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, tenant) = (store.clone(), tenant.to_string());
            tokio::spawn(async move { engine(store).tracking_key(&tenant, true).await })
        })
        .collect();
    let mut keys = Vec::new();
    for t in tasks {
        keys.push(t.await.unwrap().unwrap().unwrap());
    }
    keys.dedup();
    assert_eq!(keys.len(), 1, "one key for all");
    let stored = engine(store).tracking_key(tenant, false).await.unwrap();
    assert_eq!(stored.as_ref(), Some(&keys[0]));
}

/// Two tenants get different keys; a token claiming one tenant but signed
/// with the other's key is forged; a tenant without a key has no valid
/// token; a genuine token of an item that is gone is accepted and raises
/// nothing.
pub async fn tokens_verify_only_under_their_tenant(store: Arc<dyn DocStore>, tenant: &str) {
    let (ta, tb, tc) = (
        format!("{tenant}-a"),
        format!("{tenant}-b"),
        format!("{tenant}-c"),
    );
    let e = engine(store);
    let ka = e.tracking_key(&ta, true).await.unwrap().unwrap();
    let kb = e.tracking_key(&tb, true).await.unwrap().unwrap();
    assert_ne!(ka, kb);
    let token = |t: &str| TrackToken {
        tenant: t.to_string(),
        item_id: "gone".into(),
        outbound_id: "email-1".into(),
        kind: TrackKind::Click,
        url: Some("https://example.com/pricing".into()),
    };
    let cross = token(&tb).sign(&ka);
    assert!(matches!(
        e.track(TrackKind::Click, &cross).await,
        Err(TrackError::Forged)
    ));
    let keyless = token(&tc).sign(&ka);
    assert!(matches!(
        e.track(TrackKind::Click, &keyless).await,
        Err(TrackError::Forged)
    ));
    assert_eq!(
        e.tracking_key(&tc, false).await.unwrap(),
        None,
        "no key made"
    );
    let genuine = token(&ta).sign(&ka);
    assert!(matches!(
        e.track(TrackKind::Open, &genuine).await,
        Err(TrackError::Forged)
    ));
    let hit = e.track(TrackKind::Click, &genuine).await.unwrap();
    assert_eq!(hit.url.as_deref(), Some("https://example.com/pricing"));
    assert_eq!(hit.event_id, None, "no such item: nothing raised");
}
