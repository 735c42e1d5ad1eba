//! The Bitrix24 adapter's stored state (`crm_tests::bitrix_contract`) on
//! the in-memory store and on SQLite.

use std::sync::Arc;

use crm_core::memory::MemStore;
use crm_embedded::Db;
use crm_tests::bitrix_contract;
use crm_tests::contract::unique_tenant;

#[tokio::test]
async fn memory_store_keeps_bitrix_credentials_and_codes() {
    bitrix_contract::run_all_bitrix(Arc::new(MemStore::new()), "mem").await;
}

#[tokio::test]
async fn sqlite_store_keeps_bitrix_credentials_and_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Db::open(dir.path()).expect("open").store());
    bitrix_contract::run_all_bitrix(store, &unique_tenant("sqlite-bitrix")).await;
}
