//! Crash tests on the real binary: `kill -9` with robots pending (and in the
//! middle of running them), restart on the same data directory, advance the
//! clock, and check that every robot ran exactly once.

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{ADMIN_KEY, Api, MONDAY_1144_MSK, company};
use serde_json::json;

/// The server binary, started on a free port; killed with SIGKILL on drop.
struct Proc {
    child: Child,
    base: String,
}

impl Proc {
    /// Start `crm-automation serve` with a manual clock on `data` and wait
    /// for its banner (which names the bound address).
    fn start(data: &Path) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crm-automation"))
            .args(["serve", "--addr", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(["--clock", "manual", "--start-at", MONDAY_1144_MSK])
            .env("CRM_API_KEYS", "acme:key-acme")
            .env("CRM_ADMIN_KEY", ADMIN_KEY)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the binary starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("the banner is printed")
                .expect("stdout is readable");
            if let Some(url) = line.strip_prefix("crm-automation listening on ") {
                break url.trim().to_string();
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Proc { child, base }
    }

    /// SIGKILL, and reap the process.
    fn kill9(mut self) {
        self.child.kill().expect("SIGKILL sent");
        self.child.wait().expect("reaped");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Robots "after 1 hour" on New orders: a notification to the boss and a
/// timeline comment. Returns their ids.
async fn delayed_robots(api: &Api) -> (String, String) {
    let notify = api
        .robot(
            json!({"stage_id": "new", "type": "notify_employee", "name": "Ping the boss",
            "delay": {"mode": "after", "amount": 1, "unit": "hours"},
            "settings": {"text": "Still new: {{title}}", "recipient_ids": ["u-boss"]}}),
        )
        .await;
    let comment = api
        .robot(json!({"stage_id": "new", "type": "add_timeline_comment",
            "delay": {"mode": "after", "amount": 1, "unit": "hours"},
            "settings": {"text": "An hour in New orders: {{title}}"}}))
        .await;
    (notify, comment)
}

async fn create_items(api: &Api, n: usize, prefix: &str) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let v = api
            .post(
                "/v1/items",
                json!({"pipeline_id": "deals", "title": format!("{prefix} {i}"),
                    "responsible_id": "u-anna"}),
            )
            .await;
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    ids
}

/// Every item: each robot has exactly one run, done; exactly one comment;
/// and the boss got exactly one notification per item.
async fn assert_each_ran_once(api: &Api, items: &[String], robots: &(String, String)) {
    for item in items {
        let runs = api.runs(item).await;
        for robot in [&robots.0, &robots.1] {
            let mine: Vec<_> = runs.iter().filter(|r| r["robot_id"] == **robot).collect();
            assert_eq!(mine.len(), 1, "{item}: {runs:#?}");
            assert_eq!(mine[0]["status"], "done", "{item}: {:#}", mine[0]);
        }
        let comments = api
            .timeline(item)
            .await
            .iter()
            .filter(|e| e["kind"] == "comment")
            .count();
        assert_eq!(comments, 1, "{item}");
    }
    let notes = api.notifications("u-boss").await;
    assert_eq!(notes.len(), items.len());
    for item in items {
        assert_eq!(
            notes
                .iter()
                .filter(|n| n["item_id"] == item.as_str())
                .count(),
            1,
            "{item}: {notes:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_robots_pending_then_each_robot_runs_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Proc::start(dir.path());
    let api = Api::new(&server.base, "key-acme");
    company(&api).await;
    let robots = delayed_robots(&api).await;
    // Ten items fully planned, ten whose planning may still be queued.
    let mut items = create_items(&api, 10, "Planned").await;
    api.settle().await;
    for item in &items {
        let runs = api.runs(item).await;
        assert_eq!(
            runs.iter().filter(|r| r["status"] == "pending").count(),
            2,
            "{runs:#?}"
        );
    }
    items.extend(create_items(&api, 10, "Fresh").await);
    server.kill9();

    let server = Proc::start(dir.path());
    let api = Api::new(&server.base, "key-acme");
    assert!(api.notifications("u-boss").await.is_empty());
    assert_eq!(api.advance(2 * 3600).await, "2026-11-23T10:44:00Z");
    assert_each_ran_once(&api, &items, &robots).await;
    for n in api.notifications("u-boss").await {
        assert_eq!(n["at"], "2026-11-23T09:44:00Z", "ran at its own due time");
    }

    // Nothing runs again after a second restart and more time.
    server.kill9();
    let server = Proc::start(dir.path());
    let api = Api::new(&server.base, "key-acme");
    api.advance(3 * 24 * 3600).await;
    assert_each_ran_once(&api, &items, &robots).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_in_the_middle_of_running_robots_then_each_robot_runs_once() {
    const N: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    let server = Proc::start(dir.path());
    let api = Api::new(&server.base, "key-acme");
    company(&api).await;
    let robots = delayed_robots(&api).await;
    let items = create_items(&api, N, "Deal").await;
    api.settle().await;

    // Make all of them due at once, and kill the server while it runs them.
    let advancing = {
        let api = api.clone();
        tokio::spawn(async move {
            api.http
                .post(format!("{}/v1/clock/advance", api.base))
                .bearer_auth(&api.admin_key)
                .json(&json!({"seconds": 7200}))
                .send()
                .await
        })
    };
    let started = Instant::now();
    let mut seen = 0;
    while started.elapsed() < Duration::from_secs(60) {
        let (status, v) = api
            .call(
                reqwest::Method::GET,
                "/v1/notifications?user_id=u-boss",
                None,
            )
            .await;
        assert_eq!(status, 200);
        seen = v["notifications"].as_array().unwrap().len();
        if seen > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    server.kill9();
    eprintln!("killed with {seen} of {N} notifications sent");
    assert!(seen > 0, "the advance never started running robots");
    let _ = advancing.await;

    let server = Proc::start(dir.path());
    let api = Api::new(&server.base, "key-acme");
    // The restarted clock resumes at the target of the killed advance (it
    // never goes back); runs the killed process had claimed wait for their
    // claim to expire (5 minutes), then run.
    assert_eq!(
        api.get("/v1/clock").await["now"],
        "2026-11-23T10:44:00Z",
        "resumed at the killed advance's target"
    );
    api.advance(2 * 3600).await;
    assert_each_ran_once(&api, &items, &robots).await;
    drop(server);
}
