//! One attempt of a webhook call and the commit of its outcome (see the
//! module docs of [`crate::webhook`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::call::WebhookCall;
use super::retry::{next_attempt_at, retryable_status};
use super::signature::{IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use crate::engine::Engine;
use crate::error::Result;
use crate::http_call::{HttpCallError, HttpRequest, HttpResponse};
use crate::model::{RunRecord, RunStatus};
use crate::ports::{Cond, Doc, Job, StoreError, Write};
use crate::store::{decode, pending_delete, put, record_doc};

/// How one attempt ended.
enum Outcome {
    /// Final: the run becomes `status` with these outputs and reason.
    Final {
        status: RunStatus,
        outputs: BTreeMap<String, Value>,
        reason: String,
    },
    /// Try again at `at`; `last` says what this attempt got.
    Retry { at: DateTime<Utc>, last: String },
    /// An application robot's call reached its handler (`got`): the run
    /// keeps waiting for the application's answer ([`crate::apps`]).
    Delivered { got: String },
}

impl Engine {
    /// Make the due attempt of the webhook call of run `run_id`, if there is
    /// one: called for the call's outbox record and for each retry job.
    /// Safe to call more than once: once an attempt's outcome is committed,
    /// a repeated call finds the next attempt not due (and only makes sure
    /// its timer exists) or the call record gone.
    pub async fn webhook_attempt(&self, tenant: &str, run_id: &str) -> Result<()> {
        let Some(call_doc) = self
            .ports
            .store
            .get(&WebhookCall::key(tenant, run_id))
            .await?
        else {
            return Ok(());
        };
        let call: WebhookCall = decode(&call_doc)?;
        let Some((run, rv)) = self.load::<RunRecord>(tenant, run_id).await? else {
            return self.drop_call(&call_doc).await;
        };
        if run.status != RunStatus::Waiting {
            return self.drop_call(&call_doc).await;
        }
        let now = self.now();
        if call.next_at > now {
            return self.schedule_attempt(&call, call.next_at).await;
        }
        let item = self.load_item(tenant, &run.item_id).await?;
        if item.as_ref().is_none_or(|i| i.visit != run.visit) {
            let reason = match &item {
                None => "cancelled: the item was deleted before the webhook answered".to_string(),
                Some(i) => format!(
                    "cancelled: the item left stage '{}' (it is in '{}' now) before the webhook answered",
                    run.stage_id, i.stage_id
                ),
            };
            let outcome = Outcome::Final {
                status: RunStatus::Cancelled,
                outputs: BTreeMap::new(),
                reason,
            };
            return self
                .commit_outcome(run, rv, &call, &call_doc, outcome)
                .await;
        }
        let attempt = call.attempts + 1;
        let request = self.signed(tenant, &call.request, run_id, now).await?;
        tracing::info!(%run_id, attempt, url = %request.url, "webhook call");
        let got = self.ports.http.call(&request).await;
        let mut outcome = outcome_of(&call, attempt, now, got);
        if call.app_deadline.is_some()
            && let Outcome::Final {
                status: RunStatus::Done,
                reason,
                ..
            } = &outcome
        {
            outcome = Outcome::Delivered {
                got: reason.clone(),
            };
        }
        self.commit_outcome(run, rv, &call, &call_doc, outcome)
            .await
    }

    /// The request with this attempt's headers: the idempotency key (the
    /// run id), the timestamp and, when the tenant has a secret, the signature.
    async fn signed(
        &self,
        tenant: &str,
        request: &HttpRequest,
        run_id: &str,
        now: DateTime<Utc>,
    ) -> Result<HttpRequest> {
        let mut r = request.clone();
        let ts = now.timestamp();
        r.headers
            .push((IDEMPOTENCY_HEADER.to_string(), run_id.to_string()));
        r.headers
            .push((TIMESTAMP_HEADER.to_string(), ts.to_string()));
        if let Some(s) = self.webhook_secret(tenant).await? {
            let body = r.body.as_deref().unwrap_or("");
            r.headers
                .push((SIGNATURE_HEADER.to_string(), sign(&s.secret, ts, body)));
        }
        Ok(r)
    }

    /// Commit an attempt's outcome, guarded by the run's version (and the
    /// call record's): whoever commits first wins, the other does nothing.
    async fn commit_outcome(
        &self,
        mut run: RunRecord,
        rv: u64,
        call: &WebhookCall,
        call_doc: &Doc,
        outcome: Outcome,
    ) -> Result<()> {
        let tenant = call.tenant.as_str();
        let now = self.now();
        let mut writes = Vec::new();
        let mut deadline = None;
        let retry_at = match outcome {
            Outcome::Delivered { got } => {
                run.reason = Some(format!(
                    "waiting for the application's answer (until {}); {}",
                    call.app_deadline
                        .map(|d| d.to_rfc3339())
                        .unwrap_or_default(),
                    got.strip_prefix("done: ").unwrap_or(&got)
                ));
                writes.push(Write::Delete {
                    key: call_doc.key.clone(),
                    parent: None,
                    cond: Cond::Version(call_doc.version),
                });
                deadline = call.app_deadline;
                None
            }
            Outcome::Final {
                status,
                outputs,
                reason,
            } => {
                run.status = status;
                run.outputs = outputs;
                run.reason = Some(reason);
                run.finished_at = Some(now);
                if status != RunStatus::Cancelled
                    && let Some(next) = &run.next_run
                    && let Some(item) = self.load_item(tenant, &run.item_id).await?
                    && item.visit == run.visit
                {
                    writes.extend(self.ready_follower(tenant, next, &item, now).await?);
                }
                writes.extend(pending_delete(tenant, &run));
                writes.push(Write::Delete {
                    key: call_doc.key.clone(),
                    parent: None,
                    cond: Cond::Version(call_doc.version),
                });
                None
            }
            Outcome::Retry { at, last } => {
                run.reason = Some(format!(
                    "waiting: attempt {} got {last}; attempt {} at {}",
                    call.attempts + 1,
                    call.attempts + 2,
                    at.to_rfc3339()
                ));
                let next = WebhookCall {
                    attempts: call.attempts + 1,
                    next_at: at,
                    last: Some(last),
                    ..call.clone()
                };
                writes.push(put(
                    next.doc(call_doc.version + 1),
                    Cond::Version(call_doc.version),
                ));
                Some(next)
            }
        };
        run.version = rv + 1;
        writes.push(put(
            record_doc(tenant, &run, run.version),
            Cond::Version(rv),
        ));
        match self.ports.store.transact(writes).await {
            Ok(()) => {}
            // Someone else committed this attempt (or ended the run) first.
            Err(StoreError::Conflict { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        if let Some(next) = retry_at {
            self.schedule_attempt(&next, next.next_at).await?;
        }
        if let Some(at) = deadline {
            self.schedule_attempt(call, at).await?;
        }
        Ok(())
    }

    /// The timer of the next attempt: a job for the run at `at` (the runner
    /// hands a waiting run's job back to [`Engine::webhook_attempt`]).
    async fn schedule_attempt(&self, call: &WebhookCall, at: DateTime<Utc>) -> Result<()> {
        // An application's call: nothing is timed after its deadline.
        let at = call.app_deadline.map_or(at, |d| at.min(d));
        self.ports
            .scheduler
            .schedule(Job {
                tenant: call.tenant.clone(),
                run_id: call.run_id.clone(),
                item_id: call.item_id.clone(),
                visit: call.visit,
                due_at: at,
                then: Vec::new(),
            })
            .await?;
        Ok(())
    }

    /// Delete the call record of a run that is no longer waiting for it.
    async fn drop_call(&self, call_doc: &Doc) -> Result<()> {
        match self
            .ports
            .store
            .transact(vec![Write::Delete {
                key: call_doc.key.clone(),
                parent: None,
                cond: Cond::Version(call_doc.version),
            }])
            .await
        {
            Ok(()) | Err(StoreError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// What attempt `attempt` of `call` comes to.
fn outcome_of(
    call: &WebhookCall,
    attempt: u32,
    now: DateTime<Utc>,
    got: std::result::Result<HttpResponse, HttpCallError>,
) -> Outcome {
    let what = format!("{} {}", call.request.method, call.request.url);
    let failed = |reason: String, outputs| Outcome::Final {
        status: RunStatus::Failed,
        outputs,
        reason,
    };
    match got {
        Ok(resp) => {
            let ms = resp.latency.as_millis();
            let got = format!("{} in {ms} ms", resp.status);
            let mut outputs = BTreeMap::new();
            outputs.insert("status_code".to_string(), Value::from(resp.status));
            if (200..300).contains(&resp.status) {
                let body: Value = serde_json::from_str(&resp.body).unwrap_or(Value::Null);
                let mut missing = Vec::new();
                for (name, pointer) in &call.outputs {
                    let v = body.pointer(pointer).cloned();
                    if v.is_none() {
                        missing.push(name.as_str());
                    }
                    outputs.insert(name.clone(), v.unwrap_or(Value::Null));
                }
                let mut reason = format!("done: {what} → {got} (attempt {attempt})");
                if !missing.is_empty() {
                    reason.push_str(&format!("; not in the response: {}", missing.join(", ")));
                }
                return Outcome::Final {
                    status: RunStatus::Done,
                    outputs,
                    reason,
                };
            }
            if !retryable_status(resp.status) {
                return failed(
                    format!("failed: {what} → {got} (attempt {attempt}; not retried)"),
                    outputs,
                );
            }
            match next_attempt_at(attempt, now, resp.header("retry-after")) {
                Some(at) => Outcome::Retry { at, last: got },
                None => failed(
                    format!(
                        "failed: {what} → {got} (attempt {attempt} of {attempt}; no retries left)"
                    ),
                    outputs,
                ),
            }
        }
        Err(HttpCallError::Refused(why)) => failed(
            format!("failed: {what}: destination refused: {why} (attempt {attempt})"),
            BTreeMap::new(),
        ),
        Err(e) => match next_attempt_at(attempt, now, None) {
            Some(at) => Outcome::Retry {
                at,
                last: e.to_string(),
            },
            None => failed(
                format!("failed: {what}: {e} (attempt {attempt} of {attempt}; no retries left)"),
                BTreeMap::new(),
            ),
        },
    }
}
