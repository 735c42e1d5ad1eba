//! `GET /v1/inbound-email` (issue #15): the tenant sees whether incoming
//! email is on and its inbound address — members and admins alike, the
//! same address every time, its own and never another tenant's.

use crate::common;

use std::sync::Arc;

use chrono::Utc;
use common::*;
use crm_core::api_keys::{ApiKeyStore, MemApiKeys, NewKey, Role};
use crm_http::{CachedKeys, KeyCacheConfig};
use http::{Method, StatusCode};
use serde_json::json;

const PATH: &str = "/v1/inbound-email";

#[tokio::test]
async fn off_until_an_inbound_domain_is_configured() {
    let h = harness();
    let r = h.get(KEY_A, PATH).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"enabled": false, "address": null, "domain": null})
    );
    assert_eq!(
        h.rig
            .engine
            .inbound_address_id("tenant-a", false)
            .await
            .unwrap(),
        None,
        "reading it off makes nothing"
    );
}

#[tokio::test]
async fn members_and_admins_read_their_tenants_own_address() {
    let keys = Arc::new(MemApiKeys::new());
    let admin = NewKey::generate("tenant-a", "setup", Utc::now()).unwrap();
    let member = NewKey::generate("tenant-a", "sales floor", Utc::now())
        .unwrap()
        .with_role(Role::Member);
    for k in [&admin, &member] {
        keys.add(&k.record).await.unwrap();
    }
    let h = harness_with(|s| s.with_key_store(CachedKeys::new(keys, KeyCacheConfig::default())));
    h.rig.engine.set_inbound_domain("In.Shop.Test");

    let a = h.get(&admin.secret, PATH).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["enabled"], json!(true));
    assert_eq!(a.body["domain"], json!("in.shop.test"));
    let address = a.body["address"].as_str().unwrap().to_string();
    let (local, domain) = address.split_once('@').unwrap();
    assert_eq!(domain, "in.shop.test");
    assert!(
        local.len() == 35
            && local.starts_with("in_")
            && local[3..].chars().all(|c| c.is_ascii_hexdigit()),
        "{address}"
    );
    let m = h.get(&member.secret, PATH).await;
    assert_eq!((m.status, &m.body), (StatusCode::OK, &a.body), "the same");
    assert_eq!(
        h.rig.engine.inbound_address("tenant-a").await.unwrap(),
        Some(address.clone()),
        "the address robots' emails reply to"
    );
    assert_eq!(
        h.rig.engine.inbound_owner(local).await.unwrap().as_deref(),
        Some("tenant-a")
    );

    let b = h.get(KEY_B, PATH).await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.body);
    assert_ne!(b.body["address"], a.body["address"], "each tenant its own");

    let anonymous = h.call_with(Method::GET, PATH, None, None, &[]).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let write = h
        .call_with(
            Method::POST,
            PATH,
            Some(&admin.secret),
            Some(&json!({})),
            &[],
        )
        .await;
    assert_eq!(write.status, StatusCode::METHOD_NOT_ALLOWED);
}
