//! Load benchmark of the local server (`harness = false`): bounded, stops by
//! itself, loopback only, every store on a temporary directory.
//!
//! ```text
//! cargo bench -p crm-automation --bench load
//! BENCH_ITEMS=2000 BENCH_STAGE_CHANGES=500 BENCH_LATENCY_REQUESTS=1000 cargo bench -p crm-automation --bench load
//! ```
//!
//! Phases (each prints its figures):
//! 1. backlog + memory: `BENCH_ITEMS` items (default 100,000), created
//!    through the API, each with one robot "after 1 hour" on a manual-clock
//!    server; resident memory of this process (server and clients) with the
//!    items stored; then ONE `POST /v1/clock/advance` makes all of them due
//!    and runs them: robot runs per second.
//! 2. stage changes: `BENCH_STAGE_CHANGES` items (default 10,000) moved by
//!    `PATCH /v1/items/{id}` from `BENCH_CLIENTS` concurrent clients (default
//!    50) to a stage with 5 immediate robots (system clock, the worker woken
//!    by the API): stage changes per second accepted by the API, and end to
//!    end until every robot ran; latency of those PATCHes.
//! 3. latency: `BENCH_LATENCY_REQUESTS` (default 10,000) field-only
//!    `PATCH /v1/items/{id}` from `BENCH_CLIENTS` concurrent clients: p50/p99.
//!
//! 2b. the same stage change offered at `BENCH_RATE` per second (default
//!    1,000, the throughput target) for `BENCH_RATE_SECONDS` (default 10)
//!    on fresh items, open loop (each request leaves at its planned instant
//!    and its latency counts from there): p50/p99 at that load.
//! 3b. field-only PATCHes, `BENCH_LATENCY_REQUESTS` of them at `BENCH_RATE`
//!    per second, open loop.
//!
//! `BENCH_PHASES` (default `backlog,api`) selects phases.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use crm_automation::{ClockMode, ServeConfig, Server};
use serde_json::{Value, json};

const KEY: &str = "key-bench";
const TENANT: &str = "bench";
/// The admin key (moves the manual clock).
const ADMIN_KEY: &str = "key-bench-admin";

/// Sizes, from the environment.
struct Sizes {
    items: usize,
    stage_changes: usize,
    latency_requests: usize,
    clients: usize,
    /// Requests per second of the open-loop phases (2b, 3b).
    rate: f64,
    /// How long phase 2b offers stage changes at `rate`.
    rate_seconds: f64,
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

impl Sizes {
    fn from_env() -> Sizes {
        Sizes {
            items: env_usize("BENCH_ITEMS", 100_000),
            stage_changes: env_usize("BENCH_STAGE_CHANGES", 10_000).max(1),
            latency_requests: env_usize("BENCH_LATENCY_REQUESTS", 10_000),
            clients: env_usize("BENCH_CLIENTS", 50).max(1),
            rate: env_usize("BENCH_RATE", 1_000).max(1) as f64,
            rate_seconds: env_usize("BENCH_RATE_SECONDS", 10).max(1) as f64,
        }
    }
}

/// `VmRSS` and `VmHWM` of this process, in MiB.
fn memory_mib() -> (f64, f64) {
    (status_mib("VmRSS:"), status_mib("VmHWM:"))
}

/// One `kB` field of `/proc/self/status`, in MiB.
fn status_mib(name: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Bytes this process read and wrote through system calls so far
/// (`rchar`, `wchar` of `/proc/self/io`; page-cache hits included).
fn io_bytes() -> (u64, u64) {
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    let field = |name: &str| {
        io.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("rchar:"), field("wchar:"))
}

/// The resident memory split: heap and other anonymous memory, mapped
/// files, shared memory (SQLite's WAL index).
fn memory_split() -> String {
    format!(
        "anonymous {:.1} MiB, files {:.1} MiB, shared {:.1} MiB",
        status_mib("RssAnon:"),
        status_mib("RssFile:"),
        status_mib("RssShmem:")
    )
}

/// A JSON client.
#[derive(Clone)]
struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    fn new(base: String) -> Client {
        Client {
            base,
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(256)
                .build()
                .expect("client"),
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(if path == "/v1/clock/advance" {
                ADMIN_KEY
            } else {
                KEY
            });
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{method} {path} → {status}: {v}");
        v
    }

    async fn put(&self, path: &str, body: Value) -> Value {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn patch(&self, path: &str, body: Value) -> Value {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }
}

async fn start(clock: ClockMode) -> (tempfile::TempDir, Server, Client) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(ServeConfig {
        addr: "127.0.0.1:0".into(),
        data: dir.path().to_path_buf(),
        clock,
        start_at: Some(
            chrono::DateTime::parse_from_rfc3339("2026-11-23T08:44:00Z")
                .unwrap()
                .to_utc(),
        ),
        demo: false,
        api_keys: Some(format!("{TENANT}:{KEY}")),
        admin_key: Some(ADMIN_KEY.into()),
        // The bench measures the engine's capacity for one tenant, above
        // the default per-tenant limit (2,000 requests/s).
        throttle: crm_http::ThrottleConfig::DISABLED,
        ..ServeConfig::default()
    })
    .await
    .expect("server");
    let client = Client::new(server.base_url());
    (dir, server, client)
}

/// The standard company of `crm_core::testing`, through the API.
async fn company(c: &Client) {
    for put in crm_core::testing::company() {
        c.put(&put.path(), put.body).await;
    }
}

/// Wait until the outbox, the event queue and the job queue are all empty.
async fn wait_idle(server: &Server, limit: Duration) -> Duration {
    let t0 = Instant::now();
    loop {
        let b = server.runtime.backlog().await.expect("backlog");
        if b.outbox == 0 && b.events == 0 && b.jobs == 0 {
            return t0.elapsed();
        }
        assert!(t0.elapsed() < limit, "not idle after {limit:?}: {b:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx].as_secs_f64() * 1000.0
}

fn report_latency(name: &str, mut lat: Vec<Duration>) {
    lat.sort();
    println!(
        "{name}: n={} p50={:.2} ms p90={:.2} ms p99={:.2} ms max={:.2} ms",
        lat.len(),
        percentile(&lat, 0.50),
        percentile(&lat, 0.90),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0)
    );
}

/// Send `bodies[i]` as `PATCH /v1/items/{ids[i]}` from `clients` concurrent
/// clients; returns the wall time and every request's latency.
async fn patch_all(
    c: &Client,
    work: Vec<(String, Value)>,
    clients: usize,
) -> (Duration, Vec<Duration>) {
    let queue = Arc::new(std::sync::Mutex::new(work));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let c = c.clone();
        let queue = queue.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let next = queue.lock().unwrap().pop();
                let Some((id, body)) = next else { break };
                let t = Instant::now();
                c.patch(&format!("/v1/items/{id}"), body).await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("client task"));
    }
    (t0.elapsed(), all)
}

/// Send `work[i]` as `PATCH /v1/items/{id}` at `rate` requests per second,
/// open loop: request i leaves at `t0 + i / rate` whether or not the
/// earlier ones have answered, and its latency counts from that planned
/// instant, so a server that stalls is charged for every request it held
/// back, not only the one in flight (no coordinated omission). Returns the
/// time the last request left, the wall time and every latency.
async fn patch_at_rate(
    c: &Client,
    work: Vec<(String, Value)>,
    rate: f64,
) -> (Duration, Duration, Vec<Duration>) {
    let t0 = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(work.len());
    for (i, (id, body)) in work.into_iter().enumerate() {
        let planned = t0 + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(planned).await;
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.patch(&format!("/v1/items/{id}"), body).await;
            planned.elapsed()
        }));
    }
    let sent = t0.elapsed();
    let mut lat = Vec::with_capacity(tasks.len());
    for t in tasks {
        lat.push(t.await.expect("request"));
    }
    (sent, t0.elapsed(), lat)
}

/// Phase 2b / 3b: `work` at `rate` per second (open loop), reported.
async fn report_at_rate(c: &Client, name: &str, work: Vec<(String, Value)>, rate: f64) {
    let n = work.len();
    let (sent, wall, lat) = patch_at_rate(c, work, rate).await;
    println!(
        "{n} PATCHes offered at {rate:.0}/s: sent in {:.2} s ({:.0}/s), all answered after {:.2} s",
        sent.as_secs_f64(),
        n as f64 / sent.as_secs_f64(),
        wall.as_secs_f64()
    );
    report_latency(name, lat);
}

/// Create `n` deals in the first stage through `POST /v1/items` from
/// `clients` concurrent clients; returns their ids.
async fn create_items(c: &Client, n: usize, clients: usize) -> Vec<String> {
    let ids = Arc::new(std::sync::Mutex::new(Vec::with_capacity(n)));
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (c, ids, counter) = (c.clone(), ids.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let v = c
                    .post(
                        "/v1/items",
                        json!({"pipeline_id": "deals", "title": format!("Deal {i}"),
                            "amount": 1000 + i, "currency": "RUB", "responsible_id": "u-anna",
                            "client": {"name": format!("Client {i}"), "phone": format!("+7 900 {i:07}")}}),
                    )
                    .await;
                ids.lock()
                    .unwrap()
                    .push(v["id"].as_str().unwrap().to_string());
            }
        }));
    }
    for t in tasks {
        t.await.expect("creator");
    }
    std::mem::take(&mut *ids.lock().unwrap())
}

/// Phase 1: backlog of delayed robots and memory.
async fn backlog_phase(n: usize, clients: usize) {
    println!("\n## 1. {n} delayed robots made due by one clock advance (manual clock)");
    let (_dir, server, c) = start(ClockMode::Manual).await;
    company(&c).await;
    c.post(
        "/v1/pipelines/deals/robots",
        json!({"stage_id": "new", "type": "notify_employee", "name": "Ping",
            "delay": {"mode": "after", "amount": 1, "unit": "hours"},
            "settings": {"text": "{{title}} waits for {{responsible.name}}", "recipient_ids": ["u-boss"]}}),
    )
    .await;
    let engine = server.runtime.engine();
    let t0 = Instant::now();
    let ids = create_items(&c, n, clients).await;
    let created = t0.elapsed();
    let t1 = Instant::now();
    server
        .runtime
        .advance(TimeDelta::zero())
        .await
        .expect("plan runs");
    let planned = t1.elapsed();
    let backlog = server.runtime.backlog().await.expect("backlog");
    assert_eq!(backlog.jobs, n, "one delayed job per item");
    println!(
        "setup: {n} items created through POST /v1/items ({clients} clients) in {:.1} s ({:.0}/s); planning what was left after the last POST took {:.2} s",
        created.as_secs_f64(),
        n as f64 / created.as_secs_f64(),
        planned.as_secs_f64()
    );
    let (rss, hwm) = memory_mib();
    println!(
        "memory with {n} items and {n} pending delayed robots: VmRSS {rss:.1} MiB (peak VmHWM {hwm:.1} MiB; {})",
        memory_split()
    );

    let io0 = io_bytes();
    let t2 = Instant::now();
    let now = c.post("/v1/clock/advance", json!({"seconds": 7200})).await;
    let ran = t2.elapsed();
    let io1 = io_bytes();
    let (rss_after, hwm_after) = memory_mib();
    let backlog = server.runtime.backlog().await.expect("backlog");
    assert_eq!(
        (backlog.outbox, backlog.events, backlog.jobs),
        (0, 0, 0),
        "all ran"
    );
    // Check a sample (listing all n notifications would itself cost memory
    // that the later phases' figures would then include).
    for id in ids.iter().step_by((n / 50).max(1)) {
        let runs = engine.runs(TENANT, id).await.expect("runs");
        let done: Vec<_> = runs.iter().filter(|r| r.robot_id.is_some()).collect();
        assert_eq!(done.len(), 1, "{id}: {runs:#?}");
        assert_eq!(done[0].status, crm_core::model::RunStatus::Done, "{id}");
    }
    println!(
        "one POST /v1/clock/advance (now {}) ran {n} robots in {:.2} s: {:.0} robot runs/s",
        now["now"],
        ran.as_secs_f64(),
        n as f64 / ran.as_secs_f64()
    );
    println!(
        "file I/O of the advance: read {:.0} MiB, wrote {:.0} MiB ({:.1} KiB written per robot run)",
        (io1.0 - io0.0) as f64 / 1048576.0,
        (io1.1 - io0.1) as f64 / 1048576.0,
        (io1.1 - io0.1) as f64 / 1024.0 / n as f64
    );
    println!(
        "memory after the backlog ran: VmRSS {rss_after:.1} MiB (peak VmHWM {hwm_after:.1} MiB; {})",
        memory_split()
    );
    let db = _dir.path().join(crm_embedded::DB_FILE);
    if let Ok(m) = std::fs::metadata(&db) {
        println!(
            "database file: {:.1} MiB",
            m.len() as f64 / (1024.0 * 1024.0)
        );
    }
    server.shutdown().await.expect("shutdown");
    if let Ok(keep) = std::env::var("BENCH_KEEP_DB") {
        std::fs::copy(&db, &keep).expect("copy the database");
        let wal = db.with_extension("sqlite-wal");
        if wal.exists() {
            std::fs::copy(&wal, format!("{keep}-wal")).expect("copy the WAL");
        }
        println!("database kept in {keep}");
    }
}

/// Phases 2 and 3 on a system-clock server.
async fn api_phases(sizes: &Sizes) {
    let n = sizes.stage_changes;
    let clients = sizes.clients;
    println!(
        "\n## 2. {n} stage changes through the API, {clients} concurrent clients, 5 immediate robots on the target stage (system clock)"
    );
    let (_dir, server, c) = start(ClockMode::System).await;
    company(&c).await;
    for r in [
        json!({"stage_id": "prep", "type": "add_timeline_comment", "settings": {"text": "In preparation: {{title}}"}}),
        json!({"stage_id": "prep", "type": "notify_employee", "settings": {"text": "{{title}} ({{amount}} {{currency}}) moved", "recipient_ids": ["u-boss"]}}),
        json!({"stage_id": "prep", "type": "add_history_record", "settings": {"text": "Moved by {{responsible.name}}", "author_id": "supervisor"}}),
        json!({"stage_id": "prep", "type": "plan_activity", "settings": {"description": "Call {{client.name}}", "activity_type": "call", "deadline": {"amount": 2, "unit": "hours"}}}),
        json!({"stage_id": "prep", "type": "notify_supervisor", "settings": {"text": "{{responsible.name}} moved {{title}}"}}),
    ] {
        c.post("/v1/pipelines/deals/robots", r).await;
    }
    // Items to move, created through the API by the same clients.
    let t0 = Instant::now();
    let ids = create_items(&c, n, clients).await;
    let created = t0.elapsed();
    wait_idle(&server, Duration::from_secs(600)).await;
    println!(
        "setup: {n} items created through POST /v1/items in {:.1} s ({:.0}/s)",
        created.as_secs_f64(),
        n as f64 / created.as_secs_f64()
    );
    let mut ids = ids;

    // Latency of immediate robots on an idle server: from the PATCH's answer
    // until all 5 runs are done (the worker is woken by the API layer).
    let engine = server.runtime.engine();
    let probes: Vec<String> = ids.drain(..20.min(ids.len() / 2)).collect();
    let mut robot_lat = Vec::new();
    for id in &probes {
        c.patch(&format!("/v1/items/{id}"), json!({"stage_id": "prep"}))
            .await;
        let t = Instant::now();
        loop {
            let runs = engine.runs(TENANT, id).await.expect("runs");
            let done = runs
                .iter()
                .filter(|r| r.robot_id.is_some() && r.status.is_final())
                .count();
            if done == 5 {
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(10), "robots did not run");
            tokio::task::yield_now().await;
        }
        robot_lat.push(t.elapsed());
    }
    report_latency(
        "immediate robots (5 per stage change) finished after the PATCH answered, idle server",
        robot_lat,
    );
    let n = ids.len();

    let t1 = Instant::now();
    let work = ids
        .iter()
        .map(|id| (id.clone(), json!({"stage_id": "prep"})))
        .collect();
    let (api_time, lat) = patch_all(&c, work, clients).await;
    let drain = wait_idle(&server, Duration::from_secs(1800)).await;
    let total = t1.elapsed();
    println!(
        "API: {n} stage changes accepted in {:.2} s: {:.0} stage changes/s",
        api_time.as_secs_f64(),
        n as f64 / api_time.as_secs_f64()
    );
    println!(
        "end to end (until all {} robot runs finished; worker drained {:.2} s after the last PATCH): {:.2} s: {:.0} stage changes/s, {:.0} robot runs/s",
        5 * n,
        drain.as_secs_f64(),
        total.as_secs_f64(),
        n as f64 / total.as_secs_f64(),
        (5 * n) as f64 / total.as_secs_f64()
    );
    report_latency("PATCH stage_id (with the worker running robots)", lat);
    let (rss, hwm) = memory_mib();
    println!(
        "memory after the stage changes: VmRSS {rss:.1} MiB (peak VmHWM {hwm:.1} MiB; {})",
        memory_split()
    );
    // Check the work really happened, on a sample.
    for id in ids.iter().step_by((n / 20).max(1)) {
        let runs = engine.runs(TENANT, id).await.expect("runs");
        let done = runs
            .iter()
            .filter(|r| r.robot_id.is_some() && r.status == crm_core::model::RunStatus::Done)
            .count();
        assert_eq!(done, 5, "{id}: {runs:#?}");
    }

    // The same stage change at a fixed offered rate (open loop), on items
    // created for it: the latency at the throughput the target names,
    // rather than at saturation, where 50 closed-loop clients make the
    // p50 by themselves (Little's law: clients / throughput).
    let rate = sizes.rate;
    let m = (rate * sizes.rate_seconds) as usize;
    println!(
        "\n## 2b. {m} stage changes offered at {rate:.0}/s (open loop), 5 immediate robots on the target stage (system clock)"
    );
    let fresh = create_items(&c, m, clients).await;
    wait_idle(&server, Duration::from_secs(600)).await;
    let work = fresh
        .iter()
        .map(|id| (id.clone(), json!({"stage_id": "prep"})))
        .collect();
    let t2 = Instant::now();
    report_at_rate(
        &c,
        "PATCH stage_id at a fixed rate (with the worker running robots)",
        work,
        rate,
    )
    .await;
    let drain = wait_idle(&server, Duration::from_secs(1800)).await;
    println!(
        "all {} robot runs finished {:.2} s after the first PATCH (worker drained {:.2} s after the last answer)",
        5 * m,
        t2.elapsed().as_secs_f64(),
        drain.as_secs_f64()
    );

    let r = sizes.latency_requests;
    println!(
        "\n## 3. latency of PATCH /v1/items/{{id}} (title + amount), {clients} concurrent clients, {r} requests"
    );
    let work = (0..r)
        .map(|i| {
            (
                ids[i % ids.len()].clone(),
                json!({"title": format!("Deal renamed {i}"), "amount": i}),
            )
        })
        .collect();
    let (time, lat) = patch_all(&c, work, clients).await;
    println!(
        "{r} PATCHes in {:.2} s ({:.0}/s)",
        time.as_secs_f64(),
        r as f64 / time.as_secs_f64()
    );
    report_latency("PATCH title+amount", lat);
    println!(
        "\n## 3b. {r} PATCH /v1/items/{{id}} (title + amount) offered at {rate:.0}/s (open loop)"
    );
    let work = (0..r)
        .map(|i| {
            (
                ids[i % ids.len()].clone(),
                json!({"title": format!("Deal renamed again {i}"), "amount": i + 1}),
            )
        })
        .collect();
    report_at_rate(&c, "PATCH title+amount at a fixed rate", work, rate).await;
    wait_idle(&server, Duration::from_secs(600)).await;
    server.shutdown().await.expect("shutdown");
}

fn main() {
    let sizes = Sizes::from_env();
    println!(
        "# crm-automation load benchmark ({} CPUs, {} build)",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "optimized"
        }
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let phases = std::env::var("BENCH_PHASES").unwrap_or_else(|_| "backlog,api".into());
    rt.block_on(async {
        if phases.contains("backlog") {
            backlog_phase(sizes.items, sizes.clients).await;
        }
        if phases.contains("api") {
            api_phases(&sizes).await;
        }
    });
}
