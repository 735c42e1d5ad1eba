//! Retention's contract (`crm_tests::retention_contract`) on the in-memory
//! store, on SQLite (both purged by the store) and on DynamoDB (LocalStack;
//! the TTL's deletion done by key).

use std::sync::Arc;

use crm_core::memory::MemStore;
use crm_embedded::Db;
use crm_tests::contract::unique_tenant;
use crm_tests::retention_contract::{Expiry, finished_runs_and_sent_messages_expire};

#[tokio::test]
async fn memory_store_expires_finished_runs_and_sent_messages() {
    finished_runs_and_sent_messages_expire(Arc::new(MemStore::new()), "mem", Expiry::Purged).await;
}

#[tokio::test]
async fn sqlite_store_expires_finished_runs_and_sent_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Db::open(dir.path()).expect("open").store());
    finished_runs_and_sent_messages_expire(store, &unique_tenant("sqlite-ret"), Expiry::Purged)
        .await;
}

#[tokio::test]
async fn dynamodb_store_expires_finished_runs_and_sent_messages() {
    let ports = crm_aws::testing::isolated_ports("retention")
        .await
        .expect("LocalStack answers");
    finished_runs_and_sent_messages_expire(
        ports.store.clone(),
        &unique_tenant("aws-ret"),
        Expiry::Backend,
    )
    .await;
    crm_aws::testing::teardown(&ports).await.expect("teardown");
}
