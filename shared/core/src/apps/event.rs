//! The wait of an application robot's run for the application's answer:
//! the event token, the answer (`POST /v1/robot-events/{token}`) and the
//! timeout.
//!
//! The token (256 random bits, hex) is sent to the handler and stored only
//! as its SHA-256 ([`AppWait`]): under the tenant by run id (what the
//! timeout job reads) and under `_system` by the hash (what the answer
//! reads: the token is its only credential, the tenant comes from there).
//! Both are kept until 30 days after the deadline (store TTL), so that a
//! second answer is told apart from a forged token: 409, not 404.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::schema::ValueSchema;
use crate::engine::Engine;
use crate::error::{EngineError, FieldError, Result};
use crate::model::{RunRecord, RunStatus};
use crate::ports::{Cond, Doc, DocKey, Job, Kind, SYSTEM_TENANT, StoreError, Write};
use crate::store::{pending_delete, put, record_doc};
use crate::webhook::call::{WebhookCall, call_delete};

/// Longest `log_message` / `error` of an answer (characters).
pub const MAX_MESSAGE_CHARS: usize = 1_000;
/// Longest token accepted in the path (longer ones are unknown).
const MAX_TOKEN_LEN: usize = 128;
/// How long the wait records outlive the deadline (days).
const KEEP_DAYS: i64 = 30;

/// The wait of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppWait {
    pub tenant: String,
    pub run_id: String,
    pub item_id: String,
    pub visit: u64,
    pub code: String,
    /// SHA-256 (hex) of the event token.
    pub token_hash: String,
    /// When the run fails if the application has not answered.
    pub deadline: DateTime<Utc>,
    pub timeout_seconds: u64,
    /// The type's return schema when the run started.
    pub return_schema: ValueSchema,
}

/// A fresh event token: 256 random bits, hex.
pub fn new_token() -> String {
    format!(
        "{:032x}{:032x}",
        rand::random::<u128>(),
        rand::random::<u128>()
    )
}

/// SHA-256 of a token, hex.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl AppWait {
    /// The key of a run's wait.
    pub fn key(tenant: &str, run_id: &str) -> DocKey {
        DocKey::new(tenant, Kind::RobotEvent, run_id)
    }

    /// The key of the lookup by token hash.
    pub fn token_key(hash: &str) -> DocKey {
        DocKey::new(SYSTEM_TENANT, Kind::RobotEvent, hash)
    }

    fn doc(&self, key: DocKey) -> Doc {
        Doc {
            key,
            version: 1,
            parent: None,
            expires_at: Some((self.deadline + Duration::days(KEEP_DAYS)).timestamp()),
            body: serde_json::to_value(self).expect("a wait serializes"),
        }
    }

    /// Both records, written with the run's `waiting` commit.
    pub(crate) fn writes(&self) -> Vec<Write> {
        vec![
            put(
                self.doc(AppWait::key(&self.tenant, &self.run_id)),
                Cond::Any,
            ),
            put(self.doc(AppWait::token_key(&self.token_hash)), Cond::Absent),
        ]
    }
}

/// `POST /v1/robot-events/{token}`: the values, or an error.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RobotEventAnswer {
    /// The values of the type's return schema: the run's outputs.
    #[serde(default)]
    pub return_values: Option<Map<String, Value>>,
    /// A line for the run log.
    #[serde(default)]
    pub log_message: Option<String>,
    /// The application could not do it: the run fails with this reason.
    #[serde(default)]
    pub error: Option<String>,
}

/// The run an answer finished.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AnsweredRun {
    pub run_id: String,
    pub status: RunStatus,
    pub outputs: BTreeMap<String, Value>,
}

/// `timeout_seconds` in words.
fn human(seconds: u64) -> String {
    match seconds {
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3_600 == 0 => format!("{} h", s / 3_600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

fn check_answer(a: &RobotEventAnswer, schema: &ValueSchema) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let long = |s: &Option<String>| {
        s.as_ref()
            .is_some_and(|s| s.chars().count() > MAX_MESSAGE_CHARS)
    };
    for (field, v) in [("log_message", &a.log_message), ("error", &a.error)] {
        if long(v) {
            errors.push(FieldError {
                field: field.into(),
                message: format!("at most {MAX_MESSAGE_CHARS} characters"),
            });
        }
    }
    match (&a.return_values, &a.error) {
        (Some(_), Some(_)) => errors.push(FieldError {
            field: "error".into(),
            message: "an answer has return_values or error, not both".into(),
        }),
        (None, Some(e)) if e.trim().is_empty() => errors.push(FieldError {
            field: "error".into(),
            message: "must not be empty".into(),
        }),
        (None, Some(_)) => {}
        (values, None) => errors
            .extend(schema.check_values("return_values", values.as_ref().unwrap_or(&Map::new()))),
    }
    errors
}

impl Engine {
    /// The application's answer for the run of `token`: an unknown token
    /// (or one of a run that no longer exists) → 404, whatever the body;
    /// a run that is final already (answered, timed out, cancelled when the
    /// item left the stage) → 409; values that do not fit the return schema
    /// → 422 `return_values.<prop>`. Otherwise the run becomes `done` with
    /// the values as outputs (or `failed` with the answer's `error`) and the
    /// robot after it is readied, in one transaction guarded by the run's
    /// version: exactly one answer wins.
    pub async fn answer_robot_event(
        &self,
        token: &str,
        answer: RobotEventAnswer,
    ) -> Result<AnsweredRun> {
        let unknown = || EngineError::not_found("robot event", "(token)");
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(unknown());
        }
        let Some((wait, _)) = self
            .load_kind::<AppWait>(SYSTEM_TENANT, Kind::RobotEvent, &token_hash(token))
            .await?
        else {
            return Err(unknown());
        };
        let tenant = wait.tenant.as_str();
        for _ in 0..=self.config.max_retries {
            let Some((mut run, rv)) = self.load::<RunRecord>(tenant, &wait.run_id).await? else {
                return Err(unknown());
            };
            if run.status != RunStatus::Waiting {
                return Err(EngineError::Conflict(format!(
                    "run '{}' is {} already ({}); an event is accepted once, while the run waits",
                    run.id,
                    serde_json::to_value(run.status)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    run.reason.as_deref().unwrap_or("")
                )));
            }
            let item = self.load_item(tenant, &run.item_id).await?;
            let Some(item) = item.filter(|i| i.visit == run.visit) else {
                return Err(EngineError::Conflict(format!(
                    "run '{}' is cancelled: the item left stage '{}' (or was deleted) before the application answered",
                    run.id, run.stage_id
                )));
            };
            crate::engine::unprocessable(check_answer(&answer, &wait.return_schema))?;
            let now = self.now();
            let note = answer
                .log_message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            match &answer.error {
                Some(e) => {
                    run.status = RunStatus::Failed;
                    run.reason = Some(format!("failed: the application reported an error: {e}"));
                    run.outputs = BTreeMap::new();
                }
                None => {
                    run.status = RunStatus::Done;
                    run.reason = Some(format!("done: the application answered{note}"));
                    run.outputs = answer
                        .return_values
                        .clone()
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|(_, v)| !v.is_null())
                        .collect();
                }
            }
            run.finished_at = Some(now);
            let mut writes = Vec::new();
            if let Some(next) = &run.next_run {
                writes.extend(self.ready_follower(tenant, next, &item, now).await?);
            }
            writes.extend(pending_delete(tenant, &run));
            writes.push(call_delete(tenant, &run.id));
            run.version = rv + 1;
            writes.push(put(
                record_doc(tenant, &run, run.version),
                Cond::Version(rv),
            ));
            match self.ports.store.transact(writes).await {
                Ok(()) => {
                    self.ports.scheduler.cancel(tenant, &run.id).await?;
                    return Ok(AnsweredRun {
                        run_id: run.id,
                        status: run.status,
                        outputs: run.outputs,
                    });
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::Conflict(format!(
            "run '{}' kept changing; retry",
            wait.run_id
        )))
    }

    /// A job for a waiting run of an application robot: past the deadline
    /// the run fails ("did not answer within …"); before it, once the
    /// handler has been reached (no call record left), the job is the
    /// timer and is set again at the deadline.
    pub(crate) async fn app_wait_timer(&self, tenant: &str, run: &RunRecord) -> Result<()> {
        if !run
            .robot_type
            .as_deref()
            .is_some_and(|t| t.starts_with(super::APP_PREFIX))
        {
            return Ok(());
        }
        let Some((wait, _)) = self
            .load_kind::<AppWait>(tenant, Kind::RobotEvent, &run.id)
            .await?
        else {
            return Ok(());
        };
        let now = self.now();
        if now < wait.deadline {
            let calling = self
                .ports
                .store
                .get(&WebhookCall::key(tenant, &run.id))
                .await?
                .is_some();
            if !calling {
                self.schedule_app_deadline(&wait).await?;
            }
            return Ok(());
        }
        let Some((mut run, rv)) = self.load::<RunRecord>(tenant, &run.id).await? else {
            return Ok(());
        };
        if run.status != RunStatus::Waiting {
            return Ok(());
        }
        run.status = RunStatus::Failed;
        run.reason = Some(format!(
            "failed: the application did not answer within {} (robot type '{}', timeout_seconds {})",
            human(wait.timeout_seconds),
            wait.code,
            wait.timeout_seconds
        ));
        run.finished_at = Some(now);
        let mut writes = Vec::new();
        if let Some(next) = &run.next_run
            && let Some(item) = self.load_item(tenant, &run.item_id).await?
            && item.visit == run.visit
        {
            writes.extend(self.ready_follower(tenant, next, &item, now).await?);
        }
        writes.extend(pending_delete(tenant, &run));
        writes.push(call_delete(tenant, &run.id));
        run.version = rv + 1;
        writes.push(put(
            record_doc(tenant, &run, run.version),
            Cond::Version(rv),
        ));
        match self.ports.store.transact(writes).await {
            Ok(()) | Err(StoreError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The timer of a wait: a job for the run at its deadline.
    pub(crate) async fn schedule_app_deadline(&self, wait: &AppWait) -> Result<()> {
        self.ports
            .scheduler
            .schedule(Job {
                tenant: wait.tenant.clone(),
                run_id: wait.run_id.clone(),
                item_id: wait.item_id.clone(),
                visit: wait.visit,
                due_at: wait.deadline,
                then: Vec::new(),
            })
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_stored_hashed() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(human(3_600), "1 h");
        assert_eq!(human(90), "90 s");
        assert_eq!(human(604_800), "7 d");
    }
}
