//! `crm-automation keys add|list|revoke`, run as the binary: on the local
//! store (and against a running server) and on DynamoDB (LocalStack, a table
//! of its own).

use crate::common;

use std::process::{Command, Output};

use common::{Api, MONDAY_1144_MSK, at};
use crm_automation::{ClockMode, ServeConfig, Server};
use reqwest::Method;

fn keys(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_crm-automation"))
        .arg("keys")
        .args(args)
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "keys {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// `add` prints the key alone; returns it and the key id from the note.
fn add(store: &[&str], tenant: &str, label: &str) -> (String, String) {
    let mut args = vec!["add", "--tenant", tenant, "--label", label];
    args.extend_from_slice(store);
    let out = keys(&args);
    let key = stdout(&out).trim().to_string();
    assert!(key.starts_with("crm_") && key.len() == 68, "{key}");
    let note = String::from_utf8_lossy(&out.stderr).into_owned();
    let id = note
        .split_whitespace()
        .find(|w| w.starts_with("key-"))
        .unwrap_or_else(|| panic!("no id in {note}"))
        .to_string();
    (key, id)
}

/// The round trip every store must support: add two keys, list (all, by
/// tenant, by label) without secrets, revoke one.
fn round_trip(store: &[&str], tenant: &str) -> (String, String) {
    let (key_ci, id_ci) = add(store, tenant, "ci");
    let (key_erp, id_erp) = add(store, tenant, "erp");
    assert_ne!(key_ci, key_erp);
    let list = |extra: &[&str]| {
        let mut args = vec!["list"];
        args.extend_from_slice(extra);
        args.extend_from_slice(store);
        stdout(&keys(&args))
    };
    let all = list(&["--tenant", tenant]);
    assert!(all.starts_with("ID"), "{all}");
    assert!(all.contains(&id_ci) && all.contains(&id_erp), "{all}");
    let by_label = list(&["--tenant", tenant, "--label", "erp"]);
    assert!(
        by_label.contains(&id_erp) && !by_label.contains(&id_ci),
        "{by_label}"
    );
    for secret in [&key_ci, &key_erp] {
        assert!(!all.contains(secret.as_str()), "list shows a key: {all}");
        let hash = crm_core::api_keys::KeyHash::of(secret).to_hex();
        assert!(!all.contains(&hash), "list shows a hash: {all}");
    }
    let mut args = vec!["revoke", id_ci.as_str()];
    args.extend_from_slice(store);
    let revoked = stdout(&keys(&args));
    assert!(revoked.contains(&format!("revoked {id_ci}")), "{revoked}");
    let after = list(&["--tenant", tenant]);
    let line = after.lines().find(|l| l.contains(&id_ci)).unwrap();
    assert!(
        !line.trim_end().ends_with('-'),
        "revoked time shown: {line}"
    );
    let line = after.lines().find(|l| l.contains(&id_erp)).unwrap();
    assert!(line.trim_end().ends_with('-'), "not revoked: {line}");
    (key_ci, key_erp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_list_revoke_on_the_local_store_and_the_server_follows() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let config = ServeConfig {
        addr: "127.0.0.1:0".into(),
        data: dir.path().to_path_buf(),
        clock: ClockMode::Manual,
        start_at: Some(at(MONDAY_1144_MSK)),
        ..ServeConfig::default()
    };
    let server = Server::start(config.clone()).await.unwrap();
    let (revoked, kept) = round_trip(&["--data", data], "acme");
    // A key added while the server runs works at once (never looked up before).
    let (fresh, _) = add(&["--data", data], "globex", "new");
    let (status, body) = Api::new(&server.base_url(), &fresh)
        .call(Method::GET, "/v1/pipelines/deals", None)
        .await;
    assert_eq!(status, 404, "authenticated as globex: {body}");
    server.shutdown().await.unwrap();

    // After a restart (an empty cache) the revoked key is refused.
    let server = Server::start(config).await.unwrap();
    let call = |key: String| {
        let base = server.base_url();
        async move {
            Api::new(&base, &key)
                .call(Method::GET, "/v1/pipelines/deals", None)
                .await
                .0
        }
    };
    assert_eq!(call(revoked).await, 401);
    assert_eq!(call(kept).await, 404);
    server.shutdown().await.unwrap();
}

#[test]
fn list_and_revoke_need_an_existing_store() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    let out = Command::new(env!("CARGO_BIN_EXE_crm-automation"))
        .args(["keys", "list", "--data"])
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no database"));
    assert!(!missing.exists(), "list creates nothing");
}

#[tokio::test]
async fn add_list_revoke_on_dynamodb() {
    let client = crm_aws::DynamoApiKeys::client_from_env().await;
    let table = crm_aws::testing::unique_name("cli-keys");
    crm_aws::api_keys::ensure_keys_table(&client, &table)
        .await
        .unwrap_or_else(|e| panic!("needs LocalStack (AWS_ENDPOINT_URL): {e}"));
    let name = table.clone();
    let (revoked, kept) = tokio::task::spawn_blocking(move || {
        round_trip(&["--aws", "--table", name.as_str()], "acme")
    })
    .await
    .unwrap();
    // What the api function reads: the stored records, by hash.
    use crm_core::api_keys::{ApiKeyStore, KeyHash};
    let keys = crm_aws::DynamoApiKeys::new(client.clone(), table.as_str());
    let r = keys.find(&KeyHash::of(&revoked)).await.unwrap().unwrap();
    assert!(!r.is_active());
    let k = keys.find(&KeyHash::of(&kept)).await.unwrap().unwrap();
    assert!(k.is_active() && k.tenant == "acme" && k.label == "erp");
    client
        .delete_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_api_keys_authenticate_and_are_written_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server_on(dir.path(), MONDAY_1144_MSK).await;
    let (status, body) = Api::new(&server.base_url(), "key-acme")
        .call(Method::GET, "/v1/pipelines/deals", None)
        .await;
    assert_eq!(status, 404, "authenticated as acme: {body}");
    server.shutdown().await.unwrap();
    // Not in the key store (nothing was generated either: the variable set
    // the tenants), and in no file of the data directory.
    let listed = stdout(&keys(&["list", "--data", dir.path().to_str().unwrap()]));
    assert_eq!(listed.lines().count(), 1, "only the header: {listed}");
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        for key in ["key-acme", "key-globex", common::ADMIN_KEY] {
            assert!(!text.contains(key), "{key} in {}", path.display());
        }
    }
}

/// `add` with `--role`; returns the key.
fn add_with_role(store: &[&str], tenant: &str, label: &str, role: &str) -> String {
    let mut args = vec!["add", "--tenant", tenant, "--label", label, "--role", role];
    args.extend_from_slice(store);
    let out = keys(&args);
    let note = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(note.contains(&format!("role {role}")), "{note}");
    stdout(&out).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_key_made_with_the_cli_is_refused_admin_writes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let member = add_with_role(&["--data", data], "acme", "sales floor", "member");
    let admin = add_with_role(&["--data", data], "acme", "setup", "admin");
    let plain = add(&["--data", data], "acme", "old-style").0;
    let listed = stdout(&keys(&["list", "--data", data]));
    assert!(listed.lines().next().unwrap().contains("ROLE"), "{listed}");
    let line = listed.lines().find(|l| l.contains("sales floor")).unwrap();
    assert!(line.contains("member"), "{line}");
    let line = listed.lines().find(|l| l.contains("old-style")).unwrap();
    assert!(line.contains("admin"), "the default role: {line}");
    // an unknown role is refused
    let out = Command::new(env!("CARGO_BIN_EXE_crm-automation"))
        .args([
            "keys", "add", "--tenant", "acme", "--label", "x", "--role", "owner", "--data", data,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("owner"));

    let config = ServeConfig {
        addr: "127.0.0.1:0".into(),
        data: dir.path().to_path_buf(),
        clock: ClockMode::Manual,
        start_at: Some(at(MONDAY_1144_MSK)),
        ..ServeConfig::default()
    };
    let server = Server::start(config).await.unwrap();
    let base = server.base_url();
    let (status, me) = Api::new(&base, &member)
        .call(Method::GET, "/v1/me", None)
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["role"], "member", "{me}");
    assert_eq!(me["label"], "sales floor", "{me}");
    let pipeline = serde_json::json!({"entity_type": "deal", "name": "Sales",
        "stages": [{"id": "new", "name": "New", "semantic": "process"},
                   {"id": "won", "name": "Won", "semantic": "success"}]});
    let (status, body) = Api::new(&base, &member)
        .call(Method::PUT, "/v1/pipelines/p", Some(pipeline.clone()))
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["error"]["message"],
        "this needs an admin key (role admin)"
    );
    for key in [&admin, &plain] {
        let (status, body) = Api::new(&base, key)
            .call(Method::PUT, "/v1/pipelines/p", Some(pipeline.clone()))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = Api::new(&base, &member)
        .call(Method::GET, "/v1/pipelines/p", None)
        .await;
    assert_eq!(status, 200, "a member reads: {body}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_member_key_on_dynamodb_keeps_its_role() {
    let client = crm_aws::DynamoApiKeys::client_from_env().await;
    let table = crm_aws::testing::unique_name("cli-roles");
    crm_aws::api_keys::ensure_keys_table(&client, &table)
        .await
        .unwrap_or_else(|e| panic!("needs LocalStack (AWS_ENDPOINT_URL): {e}"));
    let name = table.clone();
    let (member, listed) = tokio::task::spawn_blocking(move || {
        let store = ["--aws", "--table", name.as_str()];
        let member = add_with_role(&store, "acme", "sales floor", "member");
        let mut args = vec!["list"];
        args.extend_from_slice(&store);
        (member, stdout(&keys(&args)))
    })
    .await
    .unwrap();
    let line = listed.lines().find(|l| l.contains("sales floor")).unwrap();
    assert!(line.contains("member"), "{line}");
    use crm_core::api_keys::{ApiKeyStore, KeyHash, Role};
    let keys = crm_aws::DynamoApiKeys::new(client.clone(), table.as_str());
    let r = keys.find(&KeyHash::of(&member)).await.unwrap().unwrap();
    assert_eq!(r.role, Role::Member);
    client
        .delete_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
}
