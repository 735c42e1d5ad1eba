//! Safe by default: the listener's timeouts and connection limit (raw TCP
//! against a server on 127.0.0.1 with short limits), a private data
//! directory, key files, and the admin key of the manual clock.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::{ADMIN_KEY, Api, KEYS, MONDAY_1144_MSK, at, server_on};
use crm_automation::{ClockMode, Limits, ServeConfig, Server};
use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Upper bound on waiting for an answer, so that a server that never
/// answers fails the test instead of hanging it. Not a measurement.
const PATIENCE: Duration = Duration::from_secs(20);

fn short_limits() -> Limits {
    Limits {
        header_read_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(300),
        max_connections: 64,
    }
}

async fn server_with(dir: &Path, limits: Limits) -> Server {
    Server::start(ServeConfig {
        addr: "127.0.0.1:0".into(),
        data: dir.to_path_buf(),
        clock: ClockMode::Manual,
        start_at: Some(at(MONDAY_1144_MSK)),
        api_keys: Some(KEYS.into()),
        admin_key: Some(ADMIN_KEY.into()),
        limits,
        ..ServeConfig::default()
    })
    .await
    .expect("server starts")
}

/// Reads one response (head and `content-length` body); `None` when the
/// server closes the connection before sending anything.
async fn read_response(stream: &mut TcpStream) -> Option<String> {
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                return (!buf.is_empty()).then(|| String::from_utf8_lossy(&buf).into_owned());
            }
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if buf.len() >= end + 4 + length {
                    return Some(text);
                }
            }
        }
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .expect("the server neither answered nor closed the connection")
}

fn status_of(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"))
}

async fn connect(server: &Server) -> TcpStream {
    TcpStream::connect(server.addr).await.expect("connects")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_shorter_than_its_content_length_is_answered_408() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with(dir.path(), short_limits()).await;
    let mut s = connect(&server).await;
    s.write_all(
        b"POST /v1/items HTTP/1.1\r\nhost: x\r\nauthorization: Bearer key-acme\r\n\
          content-type: application/json\r\ncontent-length: 100\r\n\r\n{\"title\":",
    )
    .await
    .unwrap();
    let response = read_response(&mut s).await.expect("an answer");
    assert_eq!(status_of(&response), 408, "{response}");
    assert!(response.contains("\"request_timeout\""), "{response}");
    // The server still serves others.
    let api = Api::new(&server.base_url(), "key-acme");
    assert_eq!(api.call(Method::GET, "/v1/health", None).await.0, 200);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_content_length_over_the_limit_is_answered_413_without_waiting_for_the_body() {
    let dir = tempfile::tempdir().unwrap();
    // Long body timeout: the answer must not wait for it.
    let limits = Limits {
        body_timeout: Duration::from_secs(3600),
        ..short_limits()
    };
    let server = server_with(dir.path(), limits).await;
    let mut s = connect(&server).await;
    s.write_all(
        b"POST /v1/items HTTP/1.1\r\nhost: x\r\nauthorization: Bearer key-acme\r\n\
          content-type: application/json\r\ncontent-length: 10000000\r\n\r\n{}",
    )
    .await
    .unwrap();
    let response = read_response(&mut s).await.expect("an answer");
    assert_eq!(status_of(&response), 413, "{response}");
    assert!(response.contains("\"payload_too_large\""), "{response}");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_and_idle_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_with(dir.path(), short_limits()).await;
    // Connects and sends nothing.
    let mut silent = connect(&server).await;
    // Starts a request and never finishes its headers.
    let mut partial = connect(&server).await;
    partial
        .write_all(b"GET /v1/health HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    // Finishes a request, keeps the connection, then says nothing more.
    let mut idle = connect(&server).await;
    idle.write_all(b"GET /v1/health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let first = read_response(&mut idle).await.expect("an answer");
    assert_eq!(status_of(&first), 200, "{first}");
    for (name, s) in [
        ("silent", &mut silent),
        ("partial", &mut partial),
        ("idle", &mut idle),
    ] {
        assert_eq!(read_response(s).await, None, "{name}: closed by the server");
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_are_answered_503() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        header_read_timeout: Duration::from_secs(3600),
        max_connections: 2,
        ..short_limits()
    };
    let server = server_with(dir.path(), limits).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = connect(&server).await;
        s.write_all(b"GET /v1/health HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let r = read_response(&mut s).await.expect("an answer");
        assert_eq!(status_of(&r), 200, "{r}");
        held.push(s);
    }
    let mut third = connect(&server).await;
    let _ = third
        .write_all(b"GET /v1/health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await;
    let r = read_response(&mut third).await.expect("an answer");
    assert_eq!(status_of(&r), 503, "{r}");
    assert!(r.contains("\"unavailable\""), "{r}");

    // Once a held connection closes, a new one is served again.
    drop(held.pop());
    let mut served = false;
    for _ in 0..200 {
        let mut s = connect(&server).await;
        let _ = s
            .write_all(b"GET /v1/health HTTP/1.1\r\nhost: x\r\n\r\n")
            .await;
        if let Some(r) = read_response(&mut s).await
            && status_of(&r) == 200
        {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(served, "a freed connection slot is reused");
    drop(held);
    server.shutdown().await.unwrap();
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_and_its_files_are_private() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let server = Server::start(ServeConfig {
        addr: "127.0.0.1:0".into(),
        data: data.clone(),
        clock: ClockMode::Manual,
        start_at: Some(at(MONDAY_1144_MSK)),
        ..ServeConfig::default()
    })
    .await
    .unwrap();
    let key = server.keys.key.clone().expect("generated now");
    let admin = server.admin.key.clone().expect("generated now");
    let api = Api::new(&server.base_url(), &key).with_admin_key(&admin);
    common::company(&api).await;
    api.post(
        "/v1/items",
        json!({"pipeline_id": "deals", "title": "Private", "responsible_id": "u-anna",
            "client": {"name": "Client", "email": "c@example.test", "phone": "+7 900"}}),
    )
    .await;
    api.advance(60).await;
    assert_eq!(mode(&data), 0o700, "data directory");
    let mut files: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let names: Vec<_> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in ["crm.sqlite", "crm.sqlite-wal", "clock"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    // Keys are stored hashed in the database: no key file, and the keys are
    // in no file of the directory.
    for f in &files {
        let text = String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned();
        for secret in [&key, &admin] {
            assert!(!text.contains(secret.as_str()), "a key in {}", f.display());
        }
    }
    assert!(
        !names.iter().any(|n| n == "api-key" || n == "admin-key"),
        "{names:?}"
    );
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    server.shutdown().await.unwrap();
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_world_readable_database_is_narrowed() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = data.join("crm.sqlite");
    std::fs::write(&db, b"").unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = server_on(&data, MONDAY_1144_MSK).await;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&db), 0o600);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_text_key_files_of_an_older_version_are_moved_into_the_hashed_store() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("api-key"), "crm_old_tenant_key\n").unwrap();
    std::fs::write(data.join("admin-key"), "crm_old_admin_key\n").unwrap();
    let config = ServeConfig {
        addr: "127.0.0.1:0".into(),
        data: data.clone(),
        clock: ClockMode::Manual,
        start_at: Some(at(MONDAY_1144_MSK)),
        ..ServeConfig::default()
    };
    let server = Server::start(config.clone()).await.unwrap();
    assert_eq!(server.keys.key.as_deref(), Some("crm_old_tenant_key"));
    assert!(!data.join("api-key").exists() && !data.join("admin-key").exists());
    server.shutdown().await.unwrap();
    // Started again, the old keys still work (from the store).
    let server = Server::start(config).await.unwrap();
    assert_eq!(server.keys.key, None, "stored keys are not shown again");
    let api =
        Api::new(&server.base_url(), "crm_old_tenant_key").with_admin_key("crm_old_admin_key");
    let (status, body) = api.call(Method::GET, "/v1/pipelines/deals", None).await;
    assert_eq!(status, 404, "authenticated: {body}");
    assert_eq!(api.advance(60).await, "2026-11-23T08:45:00Z");
    server.shutdown().await.unwrap();
    let db = std::fs::read(data.join("crm.sqlite")).unwrap();
    let db = String::from_utf8_lossy(&db);
    assert!(!db.contains("crm_old_tenant_key") && !db.contains("crm_old_admin_key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_key_cannot_move_the_clock_and_the_generated_admin_key_can() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(ServeConfig {
        addr: "127.0.0.1:0".into(),
        data: dir.path().to_path_buf(),
        clock: ClockMode::Manual,
        start_at: Some(at(MONDAY_1144_MSK)),
        api_keys: Some(KEYS.into()),
        ..ServeConfig::default()
    })
    .await
    .unwrap();
    let admin = server.admin.key.clone().expect("generated now");
    let acme = Api::new(&server.base_url(), "key-acme");
    let (status, body) = acme
        .call(
            Method::POST,
            "/v1/clock/advance",
            Some(json!({"seconds": 86400})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    // Reading stays open to the tenant; the clock did not move.
    assert_eq!(acme.get("/v1/clock").await["now"], "2026-11-23T08:44:00Z");
    let moved = acme.with_admin_key(&admin).advance(60).await;
    assert_eq!(moved, "2026-11-23T08:45:00Z");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manual_clock_does_not_go_back_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = server_on(dir.path(), MONDAY_1144_MSK).await;
    let api = Api::new(&server.base_url(), "key-acme");
    assert_eq!(api.advance(86_400).await, "2026-11-24T08:44:00Z");
    server.shutdown().await.unwrap();

    // Started again with the same --start-at: it resumes where it stopped.
    let server = server_on(dir.path(), MONDAY_1144_MSK).await;
    let api = Api::new(&server.base_url(), "key-acme");
    assert_eq!(api.get("/v1/clock").await["now"], "2026-11-24T08:44:00Z");
    server.shutdown().await.unwrap();

    // A later --start-at wins.
    let server = server_on(dir.path(), "2026-12-01T09:00:00+03:00").await;
    let api = Api::new(&server.base_url(), "key-acme");
    assert_eq!(api.get("/v1/clock").await["now"], "2026-12-01T06:00:00Z");
    server.shutdown().await.unwrap();
    let server = server_on(dir.path(), MONDAY_1144_MSK).await;
    let api = Api::new(&server.base_url(), "key-acme");
    assert_eq!(api.get("/v1/clock").await["now"], "2026-12-01T06:00:00Z");
    server.shutdown().await.unwrap();
}

/// Starts the binary with `RUST_LOG=trace` and `--demo` on `data`, reads its
/// banner and walk-through, stops it; returns (stdout so far, the whole log).
fn banner_and_log(data: &Path) -> (String, String) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let log_path = data.with_extension("log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_crm-automation"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--clock",
            "manual",
            "--demo",
            "--data",
        ])
        .arg(data)
        .env_remove("CRM_API_KEYS")
        .env_remove("CRM_ADMIN_KEY")
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("the binary starts");
    let mut out = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        out.push_str(&line);
        out.push('\n');
        // The last line of the demo's walk-through.
        if line.contains("notifications?user_id=u-boss") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    (out, std::fs::read_to_string(&log_path).unwrap())
}

/// The value of `export NAME=…` in a walk-through.
fn exported(out: &str, name: &str) -> String {
    let pattern = format!("{name}=");
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("export ") && l.contains(&pattern))
        .unwrap_or_else(|| panic!("no {name} in {out}"));
    let value = &line[line.find(&pattern).unwrap() + pattern.len()..];
    value.split_whitespace().next().unwrap().to_string()
}

#[test]
fn generated_keys_are_printed_once_to_stdout_and_never_logged() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let (first, log) = banner_and_log(&data);
    let key = exported(&first, "KEY");
    let admin = exported(&first, "ADMIN");
    assert!(
        key.starts_with("crm_") && admin.starts_with("crm_"),
        "{first}"
    );
    for secret in [&key, &admin] {
        assert_eq!(
            first.matches(secret.as_str()).count(),
            2,
            "banner and walk-through: {first}"
        );
        assert!(!log.contains(secret.as_str()), "a key is in the log");
    }
    assert!(!log.is_empty(), "the log was captured");
    // Later starts cannot show them; the walk-through makes new ones instead.
    let (again, log) = banner_and_log(&data);
    for secret in [&key, &admin] {
        assert!(!again.contains(secret.as_str()), "{again}");
        assert!(!log.contains(secret.as_str()), "a key is in the log");
    }
    assert!(again.contains("keys add --data"), "{again}");
    assert!(again.contains("--admin --label walkthrough"), "{again}");
}
