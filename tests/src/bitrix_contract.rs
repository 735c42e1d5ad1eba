//! The Bitrix24 adapter's stored state (issue #16) on every store adapter
//! (memory, SQLite, DynamoDB on LocalStack): inbound-webhook credentials are
//! found by their secret (and only with their own number), numbered per
//! tenant, paged, and revoked for good; app trigger codes are upserted,
//! listed in code order and deleted, per tenant.
//!
//! Each check builds an engine over the store under test
//! ([`crate::report_contract::Rig`]) in its own tenant.

use std::sync::Arc;

use crm_core::engine::PageRequest;
use crm_core::ports::DocStore;

use crate::report_contract::Rig;

const START: &str = "2026-03-02T09:00:00Z";

/// Run every check against `store`, in tenants prefixed with `tenant`.
pub async fn run_all_bitrix(store: Arc<dyn DocStore>, tenant: &str) {
    eprintln!("contract: bitrix credentials");
    credentials_are_found_by_secret_and_revoked(store.clone(), tenant).await;
    eprintln!("contract: bitrix trigger codes");
    trigger_codes_are_kept_per_tenant(store.clone(), tenant).await;
    eprintln!("contract: external ids");
    external_ids_name_items_uniquely(store, tenant).await;
}

/// External ids: found per entity type, unique, moved by a PATCH, freed by
/// a deletion.
pub async fn external_ids_name_items_uniquely(store: Arc<dyn DocStore>, prefix: &str) {
    use crm_core::api::{ItemPatch, NewItem};
    use crm_core::bitrix::Owner;
    let a = Rig::new(store, &format!("{prefix}-ext"), START).await;
    let e = &a.engine;
    let new = |ext: &str| -> NewItem {
        serde_json::from_value(
            serde_json::json!({"pipeline_id": crate::report_contract::PIPELINE,
            "title": "Deal", "responsible_id": "u-anna", "external_id": ext}),
        )
        .expect("body")
    };
    let one = e.create_item(&a.tenant, new("57")).await.expect("create");
    assert!(
        e.create_item(&a.tenant, new("57")).await.is_err(),
        "57 is taken"
    );
    let deal57 = Owner::from_type_id(2, "57").expect("owner");
    let lead57 = Owner::from_type_id(1, "57").expect("owner");
    assert_eq!(
        e.find_owner(&a.tenant, &deal57)
            .await
            .expect("find")
            .map(|i| i.id),
        Some(one.id.clone())
    );
    assert!(
        e.find_owner(&a.tenant, &lead57)
            .await
            .expect("find")
            .is_none()
    );
    let own = Owner::from_type_id(2, &one.id).expect("owner");
    assert_eq!(
        e.find_owner(&a.tenant, &own)
            .await
            .expect("find")
            .map(|i| i.id),
        Some(one.id.clone())
    );
    let patch: ItemPatch =
        serde_json::from_value(serde_json::json!({"external_id": "58"})).expect("patch");
    e.patch_item(&a.tenant, &one.id, patch, None)
        .await
        .expect("patch");
    assert!(
        e.find_owner(&a.tenant, &deal57)
            .await
            .expect("find")
            .is_none(),
        "57 is free"
    );
    let two = e.create_item(&a.tenant, new("57")).await.expect("57 again");
    e.delete_item(&a.tenant, &two.id, None)
        .await
        .expect("delete");
    assert!(
        e.find_owner(&a.tenant, &deal57)
            .await
            .expect("find")
            .is_none(),
        "freed by the deletion"
    );
    e.create_item(&a.tenant, new("57"))
        .await
        .expect("57 once more");
}

/// Credentials: lookup by secret (with the right number only), numbering and
/// paging per tenant, revocation.
pub async fn credentials_are_found_by_secret_and_revoked(store: Arc<dyn DocStore>, prefix: &str) {
    let a = Rig::new(store.clone(), &format!("{prefix}-wh-a"), START).await;
    let b = Rig::new(store.clone(), &format!("{prefix}-wh-b"), START).await;
    let e = &a.engine;
    let one = e
        .create_rest_webhook(&a.tenant, "u-anna", "forms")
        .await
        .expect("create");
    let two = e
        .create_rest_webhook(&a.tenant, "u-dan", "phones")
        .await
        .expect("create");
    let other = b
        .engine
        .create_rest_webhook(&b.tenant, "u-anna", "forms")
        .await
        .expect("create");
    assert_eq!((one.record.id, two.record.id, other.record.id), (1, 2, 1));

    let found = e
        .authenticate_rest_webhook("1", &one.secret)
        .await
        .expect("lookup");
    let found = found.expect("the secret is found");
    assert_eq!(
        (
            found.tenant.as_str(),
            found.webhook_id,
            found.user_id.as_str()
        ),
        (a.tenant.as_str(), 1, "u-anna")
    );
    let found = e
        .authenticate_rest_webhook("1", &other.secret)
        .await
        .expect("lookup");
    assert_eq!(
        found.map(|c| c.tenant),
        Some(b.tenant.clone()),
        "the secret names its tenant"
    );
    assert!(
        e.authenticate_rest_webhook("2", &one.secret)
            .await
            .expect("lookup")
            .is_none(),
        "another number"
    );
    assert!(
        e.authenticate_rest_webhook("1", "b24_wrong")
            .await
            .expect("lookup")
            .is_none()
    );
    assert!(
        e.authenticate_rest_webhook("x", &one.secret)
            .await
            .expect("lookup")
            .is_none()
    );

    let page = e
        .rest_webhooks_page(&a.tenant, &PageRequest::new(Some(1), None))
        .await
        .expect("page");
    assert_eq!(page.items.iter().map(|w| w.id).collect::<Vec<_>>(), vec![1]);
    let next = e
        .rest_webhooks_page(&a.tenant, &PageRequest::new(Some(1), page.next_cursor))
        .await
        .expect("page");
    assert_eq!(next.items.iter().map(|w| w.id).collect::<Vec<_>>(), vec![2]);
    assert!(next.next_cursor.is_none());

    assert!(
        e.revoke_rest_webhook(&b.tenant, "2").await.is_err(),
        "no credential 2 in tenant b"
    );
    let revoked = e.revoke_rest_webhook(&a.tenant, "1").await.expect("revoke");
    assert!(revoked.revoked_at.is_some());
    assert!(
        e.authenticate_rest_webhook("1", &one.secret)
            .await
            .expect("lookup")
            .is_none(),
        "revoked"
    );
    assert!(
        e.authenticate_rest_webhook("2", &two.secret)
            .await
            .expect("lookup")
            .is_some(),
        "the other stays"
    );
    let again = e
        .revoke_rest_webhook(&a.tenant, "1")
        .await
        .expect("revoke twice");
    assert_eq!(
        again.revoked_at, revoked.revoked_at,
        "the first revocation time is kept"
    );
    let all = e
        .rest_webhooks_page(&a.tenant, &PageRequest::default())
        .await
        .expect("page");
    assert_eq!(all.items.len(), 2, "revoked credentials stay listed");
    let three = e
        .create_rest_webhook(&a.tenant, "u-anna", "again")
        .await
        .expect("create");
    assert_eq!(three.record.id, 3, "numbers are not reused");
}

/// App trigger codes: upsert, code order, delete, tenants apart.
pub async fn trigger_codes_are_kept_per_tenant(store: Arc<dyn DocStore>, prefix: &str) {
    let a = Rig::new(store.clone(), &format!("{prefix}-codes-a"), START).await;
    let b = Rig::new(store.clone(), &format!("{prefix}-codes-b"), START).await;
    let e = &a.engine;
    e.upsert_app_trigger(&a.tenant, "paid", "Paid")
        .await
        .expect("add");
    e.upsert_app_trigger(&a.tenant, "called", "Called")
        .await
        .expect("add");
    e.upsert_app_trigger(&a.tenant, "paid", "Payment received")
        .await
        .expect("rename");
    let names = |v: Vec<crm_core::bitrix::AppTrigger>| {
        v.into_iter().map(|t| (t.code, t.name)).collect::<Vec<_>>()
    };
    assert_eq!(
        names(e.app_triggers(&a.tenant).await.expect("list")),
        vec![
            ("called".into(), "Called".into()),
            ("paid".into(), "Payment received".into())
        ]
    );
    assert!(
        b.engine
            .app_triggers(&b.tenant)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        b.engine
            .delete_app_trigger(&b.tenant, "paid")
            .await
            .is_err()
    );
    e.delete_app_trigger(&a.tenant, "called")
        .await
        .expect("delete");
    assert!(
        e.app_trigger(&a.tenant, "called")
            .await
            .expect("get")
            .is_none()
    );
    assert_eq!(
        names(e.app_triggers(&a.tenant).await.expect("list")),
        vec![("paid".into(), "Payment received".into())]
    );
    assert!(
        e.upsert_app_trigger(&a.tenant, "Bad Code", "x")
            .await
            .is_err()
    );
}
