//! The tenants' inbound email addresses (issue #15, `Kind::InboundAddress`)
//! over a real store adapter: made once on first use and read back the same
//! by another process (engine), one address when first uses race, each
//! address's owner found by one read, tenants apart, forged ids unknown.

use std::sync::Arc;

use crm_core::ports::DocStore;

use crate::contract_engine::engine;

/// Run every inbound-address check.
pub async fn run_all_inbound(store: Arc<dyn DocStore>, tenant: &str) {
    made_once_and_owned(store.clone(), &format!("{tenant}-in-once")).await;
    racing_first_uses_agree(store, &format!("{tenant}-in-race")).await;
}

/// No address until asked; then one address whose owner is the tenant,
/// from every engine; another tenant's differs; a forged id has no owner.
pub async fn made_once_and_owned(store: Arc<dyn DocStore>, tenant: &str) {
    let a = engine(store.clone());
    assert_eq!(a.inbound_address_id(tenant, false).await.unwrap(), None);
    let id = a.inbound_address_id(tenant, true).await.unwrap().unwrap();
    assert!(id.starts_with("in_") && id.len() == 35, "{id}");
    let b = engine(store.clone());
    assert_eq!(
        b.inbound_address_id(tenant, false).await.unwrap(),
        Some(id.clone())
    );
    assert_eq!(b.inbound_owner(&id).await.unwrap().as_deref(), Some(tenant));
    assert_eq!(
        b.inbound_owner(&id.to_uppercase())
            .await
            .unwrap()
            .as_deref(),
        Some(tenant),
        "addresses are case-insensitive"
    );
    let other = format!("{tenant}-other");
    let other_id = b.inbound_address_id(&other, true).await.unwrap().unwrap();
    assert_ne!(other_id, id);
    assert_eq!(
        engine(store.clone())
            .inbound_owner(&other_id)
            .await
            .unwrap()
            .as_deref(),
        Some(other.as_str())
    );
    let forged = format!("in_{}", "0".repeat(32));
    assert_eq!(engine(store).inbound_owner(&forged).await.unwrap(), None);
}

/// Eight processes making the first address at once end with one address.
pub async fn racing_first_uses_agree(store: Arc<dyn DocStore>, tenant: &str) {
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, tenant) = (store.clone(), tenant.to_string());
            tokio::spawn(async move { engine(store).inbound_address_id(&tenant, true).await })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap().unwrap().unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one address for all: {ids:?}");
    let stored = engine(store.clone())
        .inbound_address_id(tenant, false)
        .await
        .unwrap();
    assert_eq!(stored.as_ref(), Some(&ids[0]));
    assert_eq!(
        engine(store)
            .inbound_owner(&ids[0])
            .await
            .unwrap()
            .as_deref(),
        Some(tenant)
    );
}
