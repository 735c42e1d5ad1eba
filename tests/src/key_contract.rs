//! The contract of the API key store port ([`ApiKeyStore`]): what the memory,
//! SQLite and DynamoDB adapters must all do. Like [`crate::contract`], each
//! check derives its tenants from a prefix and assumes nothing about what
//! else is stored, so a shared backend works with a fresh prefix.

use chrono::{DateTime, Duration, TimeZone, Utc};
use crm_core::api_keys::{ApiKeyStore, KeyFilter, KeyHash, KeyStoreError, NewKey, Role};

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap() + Duration::minutes(minute)
}

fn new_key(tenant: &str, label: &str, minute: i64) -> NewKey {
    NewKey::generate(tenant, label, at(minute)).expect("valid tenant and label")
}

/// Run every check.
pub async fn run_all(store: &dyn ApiKeyStore, prefix: &str) {
    eprintln!("contract: keys find_by_hash");
    find_by_hash(store, &format!("{prefix}-find")).await;
    eprintln!("contract: keys duplicates");
    duplicates_are_rejected(store, &format!("{prefix}-dup")).await;
    eprintln!("contract: keys list");
    list_by_tenant_and_label(store, &format!("{prefix}-list")).await;
    eprintln!("contract: keys revoke");
    revoke(store, &format!("{prefix}-revoke")).await;
    eprintln!("contract: keys roles");
    roles_are_kept(store, &format!("{prefix}-roles")).await;
}

/// A key's role is stored with it: found and listed as it was added.
pub async fn roles_are_kept(store: &dyn ApiKeyStore, tenant: &str) {
    let member = new_key(tenant, "sales", 0).with_role(Role::Member);
    let admin = new_key(tenant, "setup", 1);
    for k in [&member, &admin] {
        store.add(&k.record).await.expect("add");
    }
    let found = store
        .find(&KeyHash::of(&member.secret))
        .await
        .expect("find");
    assert_eq!(found.map(|r| r.role), Some(Role::Member), "a member key");
    let found = store.find(&KeyHash::of(&admin.secret)).await.expect("find");
    assert_eq!(found.map(|r| r.role), Some(Role::Admin), "an admin key");
    let listed = store
        .list(&KeyFilter {
            tenant: Some(tenant.to_string()),
            label: None,
        })
        .await
        .expect("list");
    let roles: Vec<Role> = listed.iter().map(|r| r.role).collect();
    assert_eq!(
        roles,
        [Role::Member, Role::Admin],
        "listed with their roles"
    );
}

/// An added key is found by its hash with everything it was added with;
/// another hash finds nothing.
pub async fn find_by_hash(store: &dyn ApiKeyStore, tenant: &str) {
    let key = new_key(tenant, "ci", 0);
    store.add(&key.record).await.expect("add");
    let found = store.find(&KeyHash::of(&key.secret)).await.expect("find");
    assert_eq!(found.as_ref(), Some(&key.record), "found by the key's hash");
    let other = store
        .find(&KeyHash::of(&format!("{}x", key.secret)))
        .await
        .expect("find");
    assert_eq!(other, None, "another key's hash finds nothing");
}

/// The same hash cannot be stored twice, and the first record is kept.
pub async fn duplicates_are_rejected(store: &dyn ApiKeyStore, tenant: &str) {
    let key = new_key(tenant, "first", 0);
    store.add(&key.record).await.expect("add");
    let mut again = key.record.clone();
    again.id = format!("{}-2", key.record.id);
    again.label = "second".into();
    assert_eq!(
        store.add(&again).await,
        Err(KeyStoreError::Duplicate("hash")),
        "a second record with the same hash"
    );
    let found = store.find(&key.record.hash).await.expect("find");
    assert_eq!(found.map(|r| r.label), Some("first".into()));
}

/// `list` filters by tenant and label and orders by tenant, creation, id.
pub async fn list_by_tenant_and_label(store: &dyn ApiKeyStore, prefix: &str) {
    let (a, b) = (format!("{prefix}-a"), format!("{prefix}-b"));
    // Half a second apart: times must order as times, not as text.
    let mut a2 = new_key(&a, "erp", 1);
    a2.record.created_at += Duration::milliseconds(500);
    let a1 = new_key(&a, "ci", 1);
    let b1 = new_key(&b, "ci", 0);
    for k in [&a2, &a1, &b1] {
        store.add(&k.record).await.expect("add");
    }
    let of_a = store
        .list(&KeyFilter {
            tenant: Some(a.clone()),
            label: None,
        })
        .await
        .expect("list");
    assert_eq!(
        of_a,
        vec![a1.record.clone(), a2.record.clone()],
        "tenant a, oldest first"
    );
    let ci_of_b = store
        .list(&KeyFilter {
            tenant: Some(b.clone()),
            label: Some("ci".into()),
        })
        .await
        .expect("list");
    assert_eq!(ci_of_b, vec![b1.record.clone()]);
    let all = store.list(&KeyFilter::default()).await.expect("list all");
    let ours: Vec<_> = all
        .into_iter()
        .filter(|r| r.tenant == a || r.tenant == b)
        .collect();
    assert_eq!(
        ours,
        vec![a1.record, a2.record, b1.record],
        "ordered by tenant"
    );
}

/// `revoke` marks the key (found by hash, revoked) and keeps the first time;
/// an unknown id is `NotFound`.
pub async fn revoke(store: &dyn ApiKeyStore, tenant: &str) {
    let key = new_key(tenant, "ci", 0);
    let other = new_key(tenant, "other", 1);
    store.add(&key.record).await.expect("add");
    store.add(&other.record).await.expect("add");
    let revoked = store.revoke(&key.record.id, at(10)).await.expect("revoke");
    assert_eq!(revoked.revoked_at, Some(at(10)));
    assert_eq!(revoked.id, key.record.id);
    let found = store
        .find(&key.record.hash)
        .await
        .expect("find")
        .expect("still stored");
    assert!(!found.is_active(), "a revoked key is found as revoked");
    let again = store
        .revoke(&key.record.id, at(20))
        .await
        .expect("revoke again");
    assert_eq!(
        again.revoked_at,
        Some(at(10)),
        "the first revocation time stays"
    );
    let untouched = store.find(&other.record.hash).await.expect("find");
    assert_eq!(
        untouched.map(|r| r.is_active()),
        Some(true),
        "only that key"
    );
    assert_eq!(
        store
            .revoke(&format!("{}-none", key.record.id), at(30))
            .await,
        Err(KeyStoreError::NotFound(format!("{}-none", key.record.id)))
    );
}

/// Adds a key and returns its secret, for the adapters' "not in clear"
/// checks (which read the raw storage).
pub async fn add_one(store: &dyn ApiKeyStore, tenant: &str) -> NewKey {
    let key = new_key(tenant, "raw", 0);
    store.add(&key.record).await.expect("add");
    key
}
