//! Custom robot types of applications (issue #14).
//!
//! An application registers a robot type ([`robot_type`]): a code, a handler
//! URL, the JSON Schema (a subset, [`schema`]) of its settings and of its
//! return values. Robots of type `app.<code>` ([`crate::robots::app`]) are
//! saved with settings checked against the schema. A run:
//!
//! 1. commits `waiting` with an outbound call (the [`crate::webhook`]
//!    machinery: signed, `Idempotency-Key: <run id>`, retried on
//!    5xx/429/transport errors) and the run's wait ([`event::AppWait`]): an
//!    unguessable event token (256 bits), stored only as its SHA-256, once
//!    under the tenant by run id and once under `_system` by the hash (so
//!    the answer finds its tenant without a key);
//! 2. the handler gets `{event_token, code, run_id, item, settings}`; once
//!    it answers 2xx the run keeps waiting for the application, and a timer
//!    (the Scheduler port) is set at the deadline;
//! 3. `POST /v1/robot-events/{token}` ([`event`]) with `return_values`
//!    (checked against the return schema) finishes the run `done` with the
//!    values as outputs, or with `error` `failed`; exactly once (a run that
//!    is final already → 409). The timer fails a run still waiting at the
//!    deadline. Leaving the stage cancels the run (a late answer → 409).

pub mod event;
pub mod robot_type;
pub mod schema;

/// The prefix of an application robot's type: `app.<code>`.
pub const APP_PREFIX: &str = "app.";
