//! The public sources' stored state (`crm_tests::public_contract`) on the
//! in-memory store and on SQLite.

use std::sync::Arc;

use crm_core::memory::MemStore;
use crm_embedded::Db;
use crm_tests::contract::unique_tenant;
use crm_tests::public_contract;

#[tokio::test]
async fn memory_store_keeps_forms_visitors_and_payment_endpoints() {
    public_contract::run_all_public(Arc::new(MemStore::new()), "mem").await;
}

#[tokio::test]
async fn sqlite_store_keeps_forms_visitors_and_payment_endpoints() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Db::open(dir.path()).expect("open").store());
    public_contract::run_all_public(store, &unique_tenant("sqlite-public")).await;
}
