//! The reports' contract (`crm_tests::report_contract`) on the in-memory
//! store and on SQLite: hand-computed figures, and exact counts under
//! repeated records, lost responses and concurrent writers.

use std::sync::Arc;

use crm_core::memory::MemStore;
use crm_embedded::Db;
use crm_tests::contract::unique_tenant;
use crm_tests::report_contract;

#[tokio::test]
async fn memory_store_keeps_the_reports_exact() {
    report_contract::run_all_reports(Arc::new(MemStore::new()), "mem").await;
}

#[tokio::test]
async fn sqlite_store_keeps_the_reports_exact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Db::open(dir.path()).expect("open").store());
    report_contract::run_all_reports(store, &unique_tenant("sqlite-reports")).await;
}
