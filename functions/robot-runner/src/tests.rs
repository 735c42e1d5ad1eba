//! The handler on realistic SQS events and scheduler payloads, against the
//! engine on in-memory ports.

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

fn scheduled(job: &Job) -> LambdaEvent<Value> {
    // The scheduler's target input is the job's JSON text, delivered as is.
    let input = serde_json::to_string(job).unwrap();
    LambdaEvent::new(serde_json::from_str(&input).unwrap(), Context::default())
}

fn failed(r: &Response) -> Vec<&str> {
    match r {
        Response::Batch(b) => b
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect(),
        Response::Run(r) => panic!("expected a batch response, got {r:?}"),
    }
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
async fn a_busy_run_is_reported_for_a_retry() {
    let f = Fixture::new().await;
    // `next` waits for `now`: it has no due time yet, so it is busy.
    let next = serde_json::to_string(&f.job(&f.next)).unwrap();
    let now = serde_json::to_string(&f.job(&f.now)).unwrap();

    let response = handler(
        &f.rt.engine,
        sqs(vec![message("m-next", &next), message("m-now", &now)]),
    )
    .await
    .unwrap();
    assert_eq!(failed(&response), ["m-next"]);
    assert_eq!(f.run_of(&f.next).await.status, RunStatus::Pending);

    // The retry after `now` finished runs it.
    let retry = handler(&f.rt.engine, sqs(vec![message("m-next", &next)]))
        .await
        .unwrap();
    assert!(failed(&retry).is_empty());
    assert_eq!(f.run_of(&f.next).await.status, RunStatus::Done);
    assert_eq!(f.comments("next Website").await, 1);
}

#[tokio::test]
async fn a_scheduled_job_runs_once_and_a_busy_one_fails_the_invocation() {
    let f = Fixture::new().await;
    f.rt.clock.advance(chrono::Duration::hours(1));
    let due = f.rt.jobs.pop_due(f.rt.clock.now());
    // The immediate job was queued first; the delayed one is due now too.
    let due = match due {
        Some(j) if j.run_id.ends_with(&f.later) => j,
        _ => f.rt.jobs.pop_due(f.rt.clock.now()).unwrap(),
    };
    assert_eq!(due.run_id, run_id(&f.item_id, f.visit, &f.later));

    let first = handler(&f.rt.engine, scheduled(&due)).await.unwrap();
    assert_eq!(
        serde_json::to_value(&first).unwrap(),
        json!({"run_id": due.run_id, "outcome": "finished", "status": "done"})
    );
    let again = handler(&f.rt.engine, scheduled(&due)).await.unwrap();
    assert_eq!(
        again,
        Response::Run(RunReport {
            run_id: due.run_id.clone(),
            outcome: "already_finished",
            status: None,
        })
    );
    assert_eq!(f.comments("later Website").await, 1);

    // `next` still waits for `now` (never run here): busy → the invocation fails.
    let busy = handler(&f.rt.engine, scheduled(&f.job(&f.next)))
        .await
        .unwrap_err();
    assert!(matches!(&busy, RunnerError::Busy { run_id } if run_id.ends_with(&f.next)));
    let diagnostic = Diagnostic::from(busy);
    assert_eq!(diagnostic.error_type, "RunnerError::Busy");
}

#[tokio::test]
async fn an_early_scheduled_job_is_rescheduled_not_run() {
    let f = Fixture::new().await;
    let early = Job {
        due_at: f.rt.clock.now(),
        ..f.job(&f.later)
    };
    let report = handler(&f.rt.engine, scheduled(&early)).await.unwrap();
    assert!(matches!(
        report,
        Response::Run(RunReport {
            outcome: "rescheduled",
            ..
        })
    ));
    assert_eq!(f.run_of(&f.later).await.status, RunStatus::Pending);
    assert!(f.rt.jobs.is_scheduled(T, &early.run_id));
}

#[tokio::test]
async fn a_payload_that_is_no_job_fails_the_invocation() {
    let f = Fixture::new().await;
    let err = handler(
        &f.rt.engine,
        LambdaEvent::new(json!({"hello": "world"}), Context::default()),
    )
    .await
    .unwrap_err();
    assert!(err.is_malformed(), "{err}");
    let err = handler(
        &f.rt.engine,
        LambdaEvent::new(json!({"Records": "nope"}), Context::default()),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, RunnerError::Payload(_)));
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
fn dispatches_on_records() {
    let job = Job {
        tenant: T.into(),
        run_id: "i:1:r".into(),
        item_id: "i".into(),
        visit: 1,
        due_at: at(MONDAY_1144_MSK),
    };
    assert_eq!(
        Invocation::from_payload(serde_json::to_value(&job).unwrap()).unwrap(),
        Invocation::Scheduled(job)
    );
    let Invocation::Sqs(batch) = Invocation::from_payload(json!({"Records": []})).unwrap() else {
        panic!("expected an SQS batch");
    };
    assert!(batch.records.is_empty());
}
