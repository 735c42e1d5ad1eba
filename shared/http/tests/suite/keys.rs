//! API keys from a key store (through the cache) and the per-tenant limit,
//! through the router.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use common::{KEY_A, KEY_B, harness_with};
use crm_core::api_keys::{ADMIN_TENANT, ApiKeyStore, MemApiKeys, NewKey};
use crm_http::{CachedKeys, KeyCacheConfig, ManualTicker, TenantThrottle, ThrottleConfig};
use http::StatusCode;

/// A path only an authenticated tenant gets past (404: no such item).
const TENANT_PATH: &str = "/v1/items/no-such-item";

#[tokio::test]
async fn a_stored_key_authenticates_and_a_revoked_one_gets_401_after_the_ttl() {
    let store = Arc::new(MemApiKeys::new());
    let ticker = Arc::new(ManualTicker::new());
    let key = NewKey::generate("tenant-c", "ci", Utc::now()).unwrap();
    store.add(&key.record).await.unwrap();
    let cache = CachedKeys::with_ticker(
        store.clone(),
        KeyCacheConfig {
            ttl: Duration::from_secs(30),
            capacity: 100,
        },
        ticker.clone(),
    );
    let h = harness_with(|s| s.with_key_store(cache));
    let r = h.get(&key.secret, TENANT_PATH).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    // Keys given at start still work next to the store.
    assert_eq!(
        h.get(KEY_A, TENANT_PATH).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.get("crm_wrong", TENANT_PATH).await.status,
        StatusCode::UNAUTHORIZED
    );

    store.revoke(&key.record.id, Utc::now()).await.unwrap();
    ticker.advance(Duration::from_secs(29));
    assert_eq!(
        h.get(&key.secret, TENANT_PATH).await.status,
        StatusCode::NOT_FOUND,
        "still cached within the TTL"
    );
    ticker.advance(Duration::from_secs(1));
    let r = h.get(&key.secret, TENANT_PATH).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert_eq!(r.error_code(), "unauthorized");
}

#[tokio::test]
async fn a_stored_admin_key_is_the_admin_not_a_tenant() {
    let store = Arc::new(MemApiKeys::new());
    let key = NewKey::generate(ADMIN_TENANT, "admin", Utc::now()).unwrap();
    store.add(&key.record).await.unwrap();
    let h = harness_with(|s| s.with_key_store(CachedKeys::new(store, KeyCacheConfig::default())));
    let r = h.get(&key.secret, TENANT_PATH).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
}

#[tokio::test]
async fn a_tenant_over_its_rate_gets_429_with_retry_after_and_others_are_served() {
    let ticker = Arc::new(ManualTicker::new());
    let throttle =
        TenantThrottle::with_ticker(ThrottleConfig { rate: 2, burst: 5 }, ticker.clone());
    let h = harness_with(|s| s.with_throttle(throttle));
    for _ in 0..5 {
        assert_eq!(
            h.get(KEY_A, TENANT_PATH).await.status,
            StatusCode::NOT_FOUND
        );
    }
    let r = h.get(KEY_A, TENANT_PATH).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.error_code(), "too_many_requests");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert_eq!(retry, 1);
    // Tenant B has its own bucket.
    for _ in 0..5 {
        assert_eq!(
            h.get(KEY_B, TENANT_PATH).await.status,
            StatusCode::NOT_FOUND
        );
    }
    // After Retry-After, A is served again.
    ticker.advance(Duration::from_secs(retry));
    assert_eq!(
        h.get(KEY_A, TENANT_PATH).await.status,
        StatusCode::NOT_FOUND
    );
    // Unknown keys are 401, not 429: the limit applies to tenants.
    assert_eq!(
        h.get("wrong", TENANT_PATH).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// A write gate that records whom it admitted and never admits `held`.
struct HoldOne {
    held: &'static str,
    admitted: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl crm_http::WriteGate for HoldOne {
    async fn admit(&self, tenant: &str) {
        if tenant == self.held {
            std::future::pending::<()>().await;
        }
        self.admitted.lock().unwrap().push(tenant.to_string());
    }
}

/// The write gate (the local server's back-pressure) is asked for each
/// tenant's writes, with that tenant: a tenant it holds back waits while
/// another tenant's write, and every read, is answered at once.
#[tokio::test]
async fn a_tenants_writes_pass_its_own_write_gate_and_not_another_tenants() {
    let gate = Arc::new(HoldOne {
        held: "tenant-a",
        admitted: std::sync::Mutex::new(Vec::new()),
    });
    let h = harness_with(|s| s.with_write_gate(gate.clone()));
    let body = serde_json::json!({"title": "x"});
    let held = tokio::time::timeout(
        Duration::from_millis(200),
        h.patch(KEY_A, TENANT_PATH, body.clone(), None),
    )
    .await;
    assert!(held.is_err(), "tenant-a's write waits at its gate");
    let r = h.patch(KEY_B, TENANT_PATH, body, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert_eq!(
        h.get(KEY_A, TENANT_PATH).await.status,
        StatusCode::NOT_FOUND
    );
    let r = h
        .post("no-such-key", "/v1/items", serde_json::json!({}))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(*gate.admitted.lock().unwrap(), vec!["tenant-b".to_string()]);
}
