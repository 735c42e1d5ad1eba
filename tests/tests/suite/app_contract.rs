//! Custom robot types of applications (`crm_tests::app_contract`) on the
//! in-memory store and on SQLite.

use std::sync::Arc;

use crm_core::memory::MemStore;
use crm_embedded::Db;
use crm_tests::app_contract;
use crm_tests::contract::unique_tenant;

#[tokio::test]
async fn memory_store_keeps_app_robot_types_and_waits() {
    app_contract::run_all_apps(Arc::new(MemStore::new()), "mem").await;
}

#[tokio::test]
async fn sqlite_store_keeps_app_robot_types_and_waits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Db::open(dir.path()).expect("open").store());
    app_contract::run_all_apps(store, &unique_tenant("sqlite-apps")).await;
}
