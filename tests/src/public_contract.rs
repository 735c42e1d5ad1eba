//! The stored state of the public sources of issue #15 (web forms, the site
//! tracker, payment providers) on every store adapter (memory, SQLite,
//! DynamoDB on LocalStack): forms and site keys are found by their public
//! id alone (the `_system` lookup) and not after deletion; a repeated
//! submission key is answered from its stored record; a visitor's record
//! keeps its client and last visit; a payment endpoint finds its tenant's
//! secret.
//!
//! Each check builds an engine over the store under test
//! ([`crate::report_contract::Rig`]) in its own tenant.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Duration;
use crm_core::engine::PageRequest;
use crm_core::payments::stripe_signature::sign_stripe;
use crm_core::payments::{PaymentOutcome, PaymentProvider};
use crm_core::ports::{Clock, DocStore};
use crm_core::site_tracker::Beacon;
use crm_core::web_forms::{FormBody, FormInput};
use serde_json::json;

use crate::report_contract::{PIPELINE, Rig};

const START: &str = "2026-03-02T09:00:00Z";

/// Run every check against `store`, in tenants prefixed with `tenant`.
pub async fn run_all_public(store: Arc<dyn DocStore>, tenant: &str) {
    eprintln!("contract: web forms");
    forms_are_found_by_public_id_and_submitted(store.clone(), tenant).await;
    eprintln!("contract: site tracker");
    visitors_are_tracked(store.clone(), tenant).await;
    eprintln!("contract: payment providers");
    payment_endpoints_find_their_tenant(store, tenant).await;
}

fn form_body() -> FormBody {
    serde_json::from_value(json!({
        "name": "Contact", "pipeline_id": PIPELINE, "responsible_id": "u-anna",
        "fields": [
            {"name": "email", "label": "E-mail", "type": "email", "required": true, "maps_to": "client.email"},
            {"name": "name", "label": "Name", "type": "text", "maps_to": "client.name"}
        ]
    }))
    .expect("form body")
}

fn input(email: &str, key: Option<&str>) -> FormInput {
    FormInput {
        values: BTreeMap::from([("email".to_string(), email.to_string())]),
        idempotency_key: key.map(str::to_string),
    }
}

/// Forms: made, found by id alone, paged per tenant, submitted (a new item,
/// then the same item for the same client), idempotent, deleted.
pub async fn forms_are_found_by_public_id_and_submitted(store: Arc<dyn DocStore>, prefix: &str) {
    let a = Rig::new(store.clone(), &format!("{prefix}-forms-a"), START).await;
    let b = Rig::new(store, &format!("{prefix}-forms-b"), START).await;
    let e = &a.engine;
    let form = e.create_form(&a.tenant, form_body()).await.expect("form");
    let second = e.create_form(&a.tenant, form_body()).await.expect("form");
    let (tenant, found) = e
        .public_form(&form.id)
        .await
        .expect("look-up")
        .expect("found");
    assert_eq!(tenant, a.tenant);
    assert_eq!(found, form);
    let page = e
        .forms_page(&a.tenant, &PageRequest::new(Some(1), None))
        .await
        .expect("page");
    assert_eq!(page.items.len(), 1);
    let rest = e
        .forms_page(&a.tenant, &PageRequest::new(Some(5), page.next_cursor))
        .await
        .expect("page");
    assert_eq!(rest.items.len(), 1);
    assert!(
        b.engine
            .forms_page(&b.tenant, &PageRequest::new(None, None))
            .await
            .expect("page")
            .items
            .is_empty()
    );
    assert!(b.engine.get_form(&b.tenant, &form.id).await.is_err());

    let one = e
        .submit_form(&a.tenant, &form, input("ann@example.test", Some("k1")))
        .await
        .expect("submit");
    assert!(one.created);
    let again = e
        .submit_form(&a.tenant, &form, input("ann@example.test", Some("k1")))
        .await
        .expect("submit");
    assert_eq!(again, one, "the same key answers the same");
    let matched = e
        .submit_form(&a.tenant, &form, input("ANN@example.test", None))
        .await
        .expect("submit");
    assert!(!matched.created);
    assert_eq!(matched.item_id, one.item_id, "the client's open item");
    assert_eq!(a.events.len(), 2, "one form_submitted per submission");

    e.delete_form(&a.tenant, &second.id).await.expect("delete");
    assert!(e.public_form(&second.id).await.expect("look-up").is_none());
    assert!(e.public_form(&form.id).await.expect("look-up").is_some());
}

/// Site keys and visitors: a key finds its tenant; a tied visitor's views
/// raise `site_visit`, and `client_returned` after 30 minutes away.
pub async fn visitors_are_tracked(store: Arc<dyn DocStore>, prefix: &str) {
    let a = Rig::new(store, &format!("{prefix}-tracker"), START).await;
    let e = &a.engine;
    let key = e.create_site_key(&a.tenant, "shop").await.expect("key");
    assert_eq!(
        e.site_key_tenant(&key.id).await.expect("look-up"),
        Some(a.tenant.clone())
    );
    let beacon = |visitor: &str| Beacon {
        site_key: key.id.clone(),
        visitor_id: visitor.to_string(),
        url: "https://shop.test/".into(),
        referrer: None,
    };
    let anon = e
        .record_visit(&a.tenant, &beacon("anonymous-visitor-1"))
        .await
        .expect("visit");
    assert!(anon.raised.is_empty());
    let client = crm_core::model::ClientRef {
        email: Some("ann@example.test".into()),
        phone: None,
    };
    e.tie_visitor(&a.tenant, "known-visitor-1", &client)
        .await
        .expect("tie");
    let first = e
        .record_visit(&a.tenant, &beacon("known-visitor-1"))
        .await
        .expect("visit");
    assert_eq!(first.raised, ["site_visit"]);
    a.clock.advance(Duration::minutes(31));
    let back = e
        .record_visit(&a.tenant, &beacon("known-visitor-1"))
        .await
        .expect("visit");
    assert_eq!(back.raised, ["site_visit", "client_returned"]);
    let page = e
        .site_keys_page(&a.tenant, &PageRequest::new(None, None))
        .await
        .expect("page");
    assert_eq!(page.items, std::slice::from_ref(&key));
    e.delete_site_key(&a.tenant, &key.id).await.expect("delete");
    assert_eq!(e.site_key_tenant(&key.id).await.expect("look-up"), None);
}

/// Payment providers: the endpoint id finds the tenant's secret; a signed
/// webhook raises `invoice_paid`, a forged one nothing; deletion closes it.
pub async fn payment_endpoints_find_their_tenant(store: Arc<dyn DocStore>, prefix: &str) {
    let a = Rig::new(store, &format!("{prefix}-pay"), START).await;
    let e = &a.engine;
    let item = e
        .create_item(
            &a.tenant,
            serde_json::from_value(
                json!({"pipeline_id": PIPELINE, "title": "Deal", "responsible_id": "u-anna"}),
            )
            .expect("item"),
        )
        .await
        .expect("item");
    let config = e
        .put_payment_provider(&a.tenant, PaymentProvider::Stripe, "whsec_contract")
        .await
        .expect("provider");
    let body = json!({"id": "evt_c1", "type": "invoice.paid", "data": {"object": {
        "amount_paid": 1000, "currency": "usd", "metadata": {"crm_item_id": item.id}}}})
    .to_string();
    let now = a.clock.now().timestamp();
    let signed = sign_stripe(body.as_bytes(), "whsec_contract", now);
    let out = e
        .receive_stripe_webhook(&config.endpoint_id, Some(&signed), body.as_bytes())
        .await
        .expect("webhook");
    assert!(matches!(out, Ok(PaymentOutcome::Raised { .. })), "{out:?}");
    let forged = sign_stripe(body.as_bytes(), "whsec_other", now);
    let out = e
        .receive_stripe_webhook(&config.endpoint_id, Some(&forged), body.as_bytes())
        .await
        .expect("webhook");
    assert!(out.is_err(), "{out:?}");
    assert_eq!(a.events.len(), 1);
    e.delete_payment_provider(&a.tenant, PaymentProvider::Stripe)
        .await
        .expect("delete");
    let out = e
        .receive_stripe_webhook(&config.endpoint_id, Some(&signed), body.as_bytes())
        .await
        .expect("webhook");
    assert!(out.is_err(), "a deleted endpoint finds nothing");
}
