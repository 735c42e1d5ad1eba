//! The handler on realistic SQS events, against the engine on in-memory
//! ports.

use super::*;
use crm_core::memory::MemRuntime;
use crm_core::model::RunRecord;
use crm_core::planning::run_id;
use crm_core::ports::Clock;
use crm_core::testing::{
    MONDAY_1144_MSK, TENANT as T, at, body, company_runtime, plain_deal, settled_item,
};
use lambda_runtime::Context;
use serde_json::json;
use std::time::Duration;

/// The fixture: a deal just moved to `won`, whose robots are planned but
/// not run: `now` (immediate), `next` (after `now`) and `later` (one hour
/// delay).
struct Fixture {
    rt: MemRuntime,
    item_id: String,
    visit: u64,
    now: String,
    next: String,
    later: String,
}

impl Fixture {
    async fn new() -> Fixture {
        let rt = company_runtime(MONDAY_1144_MSK).await;
        let e = &rt.engine;
        let comment = |name: &str, extra: Value| {
            let mut v = json!({"stage_id": "won", "type": "add_timeline_comment", "name": name,
                "settings": {"text": format!("{name} {{{{title}}}}")}});
            v.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            body(v)
        };
        let now = e
            .create_robot(T, "deals", comment("now", json!({})))
            .await
            .unwrap();
        let next = e
            .create_robot(T, "deals", comment("next", json!({"after_previous": true})))
            .await
            .unwrap();
        let later = e
            .create_robot(
                T,
                "deals",
                comment(
                    "later",
                    json!({"delay": {"mode": "after", "amount": 1, "unit": "hours"}}),
                ),
            )
            .await
            .unwrap();
        let item = settled_item(&rt, plain_deal("Website")).await;
        let item = e
            .patch_item(T, &item.id, body(json!({"stage_id": "won"})), None)
            .await
            .unwrap();
        // The stage-change step only: plan the visit, run nothing.
        for d in e.pending_outbox().await.unwrap() {
            e.process_outbox(d).await.unwrap();
        }
        Fixture {
            visit: item.visit,
            item_id: item.id,
            now: now.id,
            next: next.id,
            later: later.id,
            rt,
        }
    }

    /// The job of robot `robot_id`'s run in the current visit.
    fn job(&self, robot_id: &str) -> Job {
        Job {
            tenant: T.into(),
            run_id: run_id(&self.item_id, self.visit, robot_id),
            item_id: self.item_id.clone(),
            visit: self.visit,
            due_at: self.rt.clock.now(),
            then: Vec::new(),
        }
    }

    async fn run_of(&self, robot_id: &str) -> RunRecord {
        let id = run_id(&self.item_id, self.visit, robot_id);
        self.rt
            .engine
            .runs(T, &self.item_id)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.id == id)
            .unwrap()
    }

    /// How many timeline entries mention `text`.
    async fn comments(&self, text: &str) -> usize {
        self.rt
            .engine
            .timeline(T, &self.item_id)
            .await
            .unwrap()
            .iter()
            .filter(|e| serde_json::to_string(e).unwrap().contains(text))
            .count()
    }
}

/// An SQS record of the robot-actions queue as Lambda delivers it.
fn message(id: &str, body: &str) -> Value {
    crm_aws::testing::sqs_record(id, body, "crm-robot-actions")
}

fn sqs(messages: Vec<Value>) -> LambdaEvent<Value> {
    LambdaEvent::new(json!({ "Records": messages }), Context::default())
}

fn failed(r: &SqsBatchResponse) -> Vec<&str> {
    r.batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect()
}

/// Deliver `job` as one message of the robot-actions queue.
async fn deliver(f: &Fixture, id: &str, job: &Job) -> SqsBatchResponse {
    let body = serde_json::to_string(job).unwrap();
    handler(&f.rt.engine, sqs(vec![message(id, &body)]))
        .await
        .unwrap()
}

#[tokio::test]
async fn the_queued_job_is_the_one_the_stage_change_planned() {
    let f = Fixture::new().await;
    let queued = f.rt.jobs.pop_due(f.rt.clock.now()).unwrap();
    assert_eq!(queued, f.job(&f.now));
    assert!(f.rt.jobs.pop_due(f.rt.clock.now()).is_none());
}

#[tokio::test]
async fn a_duplicate_message_has_one_effect_and_a_malformed_one_is_reported() {
    let f = Fixture::new().await;
    let job = serde_json::to_string(&f.job(&f.now)).unwrap();

    let response = handler(
        &f.rt.engine,
        sqs(vec![
            message("m-1", &job),
            message("m-bad", "{\"tenant\": \"acme\", \"run_id\": "),
            message("m-2", &job),
        ]),
    )
    .await
    .unwrap();

    assert_eq!(failed(&response), ["m-bad"]);
    assert_eq!(f.run_of(&f.now).await.status, RunStatus::Done);
    assert_eq!(f.comments("now Website").await, 1);
    // Finishing `now` released `next` (through the outbox, not run yet).
    assert!(f.run_of(&f.next).await.due_at.is_some());
}

#[tokio::test]
async fn a_job_waiting_for_its_previous_robot_is_acknowledged_and_queued_again_by_it() {
    let f = Fixture::new().await;
    // `next` waits for `now`: it has no due time yet.
    let next = serde_json::to_string(&f.job(&f.next)).unwrap();
    let now = serde_json::to_string(&f.job(&f.now)).unwrap();
    assert!(
        f.rt.jobs.pop_due(f.rt.clock.now()).is_some(),
        "the planned job of `now`"
    );
    assert!(
        f.rt.jobs.pop_due(f.rt.clock.now()).is_none(),
        "no job for `next` yet"
    );

    let response = handler(
        &f.rt.engine,
        sqs(vec![message("m-next", &next), message("m-now", &now)]),
    )
    .await
    .unwrap();
    assert!(failed(&response).is_empty(), "both acknowledged");
    assert_eq!(f.run_of(&f.now).await.status, RunStatus::Done);
    assert_eq!(f.run_of(&f.next).await.status, RunStatus::Pending);

    // `now`'s final commit wrote a RunReady record: its processing queues `next`.
    for d in f.rt.engine.pending_outbox().await.unwrap() {
        f.rt.engine.process_outbox(d).await.unwrap();
    }
    let queued = f.rt.jobs.pop_due(f.rt.clock.now()).expect("`next` queued");
    assert_eq!(queued.run_id, run_id(&f.item_id, f.visit, &f.next));
    assert!(failed(&deliver(&f, "m-next-2", &queued).await).is_empty());
    assert_eq!(f.run_of(&f.next).await.status, RunStatus::Done);
    assert_eq!(f.comments("next Website").await, 1);
}

#[tokio::test]
async fn an_early_job_is_put_back_for_its_due_time_and_never_runs_a_second_early() {
    let f = Fixture::new().await;
    let due = f.rt.clock.now() + chrono::Duration::hours(1);
    let later = Job {
        due_at: due,
        ..f.job(&f.later)
    };
    // One second early (the old runner tolerated that): still early.
    f.rt.clock.set(due - chrono::Duration::seconds(1));
    let response = deliver(&f, "m-early", &later).await;
    assert!(failed(&response).is_empty(), "acknowledged");
    assert_eq!(f.run_of(&f.later).await.status, RunStatus::Pending);
    assert_eq!(f.comments("later Website").await, 0);
    assert!(f.rt.jobs.is_scheduled(T, &later.run_id));

    f.rt.clock.set(due);
    assert!(failed(&deliver(&f, "m-due", &later).await).is_empty());
    let run = f.run_of(&f.later).await;
    assert_eq!(run.status, RunStatus::Done);
    assert!(run.finished_at.unwrap() >= due);
    // The schedule's input delivered again: no second effect.
    assert!(failed(&deliver(&f, "m-dup", &later).await).is_empty());
    assert_eq!(f.comments("later Website").await, 1);
}

#[tokio::test]
async fn a_live_claim_sends_the_job_again_for_the_claims_end_and_acknowledges() {
    let f = Fixture::new().await;
    let job = f.rt.jobs.pop_due(f.rt.clock.now()).unwrap();
    // Another runner claimed the run and died before committing.
    let until = f.rt.clock.now() + chrono::Duration::minutes(5);
    crm_core::testing::claim_left_by_a_dead_runner(&f.rt, T, &job.run_id, until).await;

    let response = deliver(&f, "m-1", &job).await;
    assert!(failed(&response).is_empty(), "acknowledged, not retried");
    assert!(
        f.rt.jobs.pop_due(f.rt.clock.now()).is_none(),
        "not before the claim ends"
    );
    assert_eq!(f.rt.jobs.next_due(), Some(until));

    f.rt.clock.set(until);
    let again = f.rt.jobs.pop_due(f.rt.clock.now()).unwrap();
    assert_eq!(
        again,
        Job {
            due_at: until,
            ..job.clone()
        }
    );
    assert!(failed(&deliver(&f, "m-2", &again).await).is_empty());
    let run = f.run_of(&f.now).await;
    assert_eq!((run.status, run.attempts), (RunStatus::Done, 2));
    assert_eq!(f.comments("now Website").await, 1);
}

#[tokio::test]
async fn a_payload_that_is_no_sqs_event_fails_the_invocation() {
    let f = Fixture::new().await;
    let job = serde_json::to_value(f.job(&f.now)).unwrap();
    let err = handler(&f.rt.engine, LambdaEvent::new(job, Context::default()))
        .await
        .unwrap_err();
    assert!(err.is_malformed(), "{err}");
    let err = handler(
        &f.rt.engine,
        LambdaEvent::new(json!({"Records": "nope"}), Context::default()),
    )
    .await
    .unwrap_err();
    assert_eq!(Diagnostic::from(err).error_type, "RunnerError::Payload");
    assert_eq!(f.run_of(&f.now).await.status, RunStatus::Pending);
}

#[tokio::test]
async fn near_the_deadline_nothing_is_started_and_everything_is_reported() {
    let f = Fixture::new().await;
    let job = serde_json::to_string(&f.job(&f.now)).unwrap();
    let mut context = Context::default();
    context.deadline = (SystemTime::now() + Duration::from_millis(1500))
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let event = LambdaEvent::new(
        json!({"Records": [message("m-1", &job), message("m-2", &job)]}),
        context,
    );
    let response = handler(&f.rt.engine, event).await.unwrap();
    assert_eq!(failed(&response), ["m-1", "m-2"]);
    assert_eq!(f.run_of(&f.now).await.status, RunStatus::Pending);
}

#[test]
fn a_finished_run_is_measured_by_status_and_lateness() {
    let due = at(MONDAY_1144_MSK);
    let job = Job {
        tenant: T.into(),
        run_id: "i:1:r".into(),
        item_id: "i".into(),
        visit: 1,
        due_at: due,
        then: Vec::new(),
    };
    let done = RunReport {
        run_id: job.run_id.clone(),
        outcome: "finished",
        status: Some(RunStatus::Done),
    };
    let m = metric(&done, &job, due + chrono::Duration::milliseconds(1500));
    let v = m.to_emf();
    assert_eq!(
        (&v["Function"], &v["Status"]),
        (&json!("robot-runner"), &json!("done"))
    );
    assert_eq!(v["LatenessMs"], 1500);
    let claimed = RunReport {
        outcome: "claimed",
        status: None,
        ..done
    };
    let v = metric(&claimed, &job, due).to_emf();
    assert_eq!(v["Status"], "claimed");
    assert!(v.get("LatenessMs").is_none());
}

/// The value of `key: <number>` on the first line after `after` that has it.
fn template_number(template: &str, after: &str, key: &str) -> i64 {
    let start = template
        .find(after)
        .unwrap_or_else(|| panic!("{after} in the template"));
    template[start..]
        .lines()
        .find_map(|l| l.trim().strip_prefix(key)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{key} after {after}"))
}

/// A claim must outlive the invocation that holds it (else two runners run
/// one robot), and a job that meets a live claim must be deliverable again
/// when the claim ends with one SQS delay. The message that carries a
/// claimed run must not come back before the invocation is over.
#[test]
fn the_claim_outlives_a_running_invocation_and_fits_one_queue_delay() {
    let template = include_str!("../../../infra/template.yaml");
    let runner_section = &template[template
        .find("  RobotRunnerFunction:")
        .expect("the runner function")..];
    let timeout = if runner_section
        .lines()
        .take_while(|l| !l.trim_start().starts_with("Events:"))
        .any(|l| l.trim().starts_with("Timeout:"))
    {
        template_number(template, "  RobotRunnerFunction:", "Timeout:")
    } else {
        template_number(template, "Globals:", "Timeout:")
    };
    let visibility = template_number(template, "  RobotQueue:\n", "VisibilityTimeout:");
    let claim = crm_aws::wiring::aws_engine_config().claim_ttl.num_seconds();
    assert!(
        claim > timeout,
        "claim_ttl {claim} s <= function timeout {timeout} s"
    );
    assert!(
        visibility >= timeout,
        "visibility {visibility} s < timeout {timeout} s"
    );
    assert!(
        claim <= crm_aws::sqs::MAX_DELAY_SECONDS,
        "a claim's rest must fit one DelaySeconds"
    );
    // One hung AWS call fails its message, not the whole invocation.
    let operation = i64::try_from(crm_aws::config::OPERATION_TIMEOUT.as_secs()).unwrap();
    assert!(
        operation < timeout,
        "SDK operation timeout {operation} s >= {timeout} s"
    );
}

/// Issue #11: a stage change's immediate robots arrive as one message (a
/// visit job) and every run of it is reported, in robot order.
#[tokio::test]
async fn one_message_carries_a_visits_immediate_runs_and_reports_each() {
    let rt = MemRuntime::with_config(
        at(MONDAY_1144_MSK),
        crm_core::EngineConfig {
            claim_runs: false,
            ..Default::default()
        },
    );
    crm_core::testing::load(&rt.engine, T).await.unwrap();
    let mut robots = Vec::new();
    for n in 1..=3 {
        let r = rt
            .engine
            .create_robot(
                T,
                "deals",
                body(json!({"stage_id": "new", "type": "add_timeline_comment",
                    "settings": {"text": format!("c{n}")}})),
            )
            .await
            .unwrap();
        robots.push(r.id);
    }
    let item = rt
        .engine
        .create_item(
            T,
            body(json!({"pipeline_id": "deals", "title": "W", "responsible_id": "u-anna"})),
        )
        .await
        .unwrap();
    for d in rt.engine.pending_outbox().await.unwrap() {
        rt.engine.process_outbox(d).await.unwrap();
    }
    let job = rt.jobs.pop_due(rt.clock.now()).expect("one job");
    assert!(rt.jobs.pop_due(rt.clock.now()).is_none(), "only one");
    let ids: Vec<String> = robots.iter().map(|r| run_id(&item.id, 1, r)).collect();
    assert_eq!((&job.run_id, &job.then[..]), (&ids[0], &ids[1..]));

    let reports = run_all(&rt.engine, job.clone()).await.unwrap();
    let done: Vec<(String, &str, Option<RunStatus>)> = ids
        .iter()
        .map(|id| (id.clone(), "finished", Some(RunStatus::Done)))
        .collect();
    let got: Vec<(String, &str, Option<RunStatus>)> = reports
        .into_iter()
        .map(|r| (r.run_id, r.outcome, r.status))
        .collect();
    assert_eq!(got, done);
    // The same message again (SQS at least once): acknowledged, nothing twice.
    let body = serde_json::to_string(&job).unwrap();
    let response = handler(&rt.engine, sqs(vec![message("m-again", &body)]))
        .await
        .unwrap();
    assert!(failed(&response).is_empty());
    let again = run_all(&rt.engine, job).await.unwrap();
    assert!(again.iter().all(|r| r.outcome == "already_finished"));
    let comments = rt
        .engine
        .timeline(T, &item.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "comment")
        .map(|e| e.text)
        .collect::<Vec<_>>();
    assert_eq!(comments, ["c1", "c2", "c3"]);
}
