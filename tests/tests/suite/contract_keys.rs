//! The API key store contract on every adapter: memory, SQLite, DynamoDB
//! (LocalStack, a table of its own per run, deleted at the end). Each
//! persistent adapter is also read raw to show that no key is stored in clear.

use crm_aws::DynamoApiKeys;
use crm_aws::api_keys::ensure_keys_table;
use crm_core::api_keys::MemApiKeys;
use crm_embedded::{DB_FILE, Db};
use crm_tests::contract::unique_tenant;
use crm_tests::key_contract;

#[tokio::test]
async fn memory_passes_the_key_store_contract() {
    key_contract::run_all(&MemApiKeys::new(), "mem").await;
}

#[tokio::test]
async fn sqlite_passes_the_key_store_contract() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = Db::open(dir.path())
        .expect("open")
        .api_keys()
        .expect("keys");
    key_contract::run_all(&keys, &unique_tenant("sqlite")).await;
}

#[tokio::test]
async fn sqlite_stores_no_key_in_clear() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = Db::open(dir.path())
        .expect("open")
        .api_keys()
        .expect("keys");
    let key = key_contract::add_one(&keys, "raw").await;
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).expect("raw connection");
    let rows: Vec<String> = conn
        .prepare("SELECT hash || ' ' || id || ' ' || tenant || ' ' || label FROM api_keys")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(rows.len(), 1);
    assert!(
        !rows[0].contains(&key.secret),
        "the key is in the table: {rows:?}"
    );
    assert!(rows[0].contains(&key.record.hash.to_hex()), "its hash is");
    drop(conn);
    // Nor anywhere in the file (WAL included).
    for suffix in ["", "-wal"] {
        let path = dir.path().join(format!("{DB_FILE}{suffix}"));
        if let Ok(bytes) = std::fs::read(&path) {
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains(&key.secret),
                "the key is in {}",
                path.display()
            );
        }
    }
}

async fn dynamo(test: &str) -> DynamoApiKeys {
    let client = DynamoApiKeys::client_from_env().await;
    let table = crm_aws::testing::unique_name(test);
    ensure_keys_table(&client, &table)
        .await
        .unwrap_or_else(|e| panic!("the DynamoDB key tests need LocalStack: {e}"));
    DynamoApiKeys::new(client, table)
}

async fn drop_table(keys: &DynamoApiKeys) {
    let client = DynamoApiKeys::client_from_env().await;
    client
        .delete_table()
        .table_name(keys.table())
        .send()
        .await
        .expect("delete table");
}

#[tokio::test]
async fn dynamodb_passes_the_key_store_contract() {
    let keys = dynamo("contract-keys").await;
    key_contract::run_all(&keys, &unique_tenant("aws")).await;
    drop_table(&keys).await;
}

#[tokio::test]
async fn dynamodb_stores_no_key_in_clear() {
    let keys = dynamo("raw-keys").await;
    let key = key_contract::add_one(&keys, "raw").await;
    let client = DynamoApiKeys::client_from_env().await;
    let items = client
        .scan()
        .table_name(keys.table())
        .send()
        .await
        .expect("scan")
        .items
        .unwrap_or_default();
    assert_eq!(items.len(), 1);
    let raw = format!("{:?}", items[0]);
    assert!(!raw.contains(&key.secret), "the key is in the item: {raw}");
    assert!(
        raw.contains(&key.record.hash.to_hex()),
        "its hash is: {raw}"
    );
    drop_table(&keys).await;
}
