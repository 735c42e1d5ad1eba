//! Webhooks out (issue #14): the `call_webhook` robot's call, made after the
//! commit that decided it, through the [`crate::http_call::HttpCaller`] port.
//!
//! 1. The robot's run commits as `waiting` (not final; a robot after it keeps
//!    waiting) together with a [`call::WebhookCall`] record (id = the run id)
//!    and a `CallWebhook` outbox record.
//! 2. The outbox processor ([`Engine::webhook_attempt`](crate::Engine)) signs
//!    and makes the call, then commits the outcome in one transaction guarded
//!    by the run record's version: the run final (`done` with its outputs, or
//!    `failed` naming the status) with status code, latency and attempt in its
//!    reason, the robot after it readied, the call record deleted. A repeated
//!    outbox record or job finds the call record gone (or not due) and calls
//!    nothing.
//! 3. A 5xx, 429, timeout or transport error schedules the next attempt
//!    through the [`crate::ports::Scheduler`] (a job for the run, which the
//!    runner hands back here) — [`retry`].
//!
//! Delivery is at least once with a key: a crash between the call and the
//! commit repeats the call, with the same `Idempotency-Key: <run id>` header,
//! so the receiver can de-duplicate it.

pub mod attempt;
pub mod call;
pub mod guard;
pub mod json_template;
pub mod retry;
pub mod secret;
pub mod signature;
