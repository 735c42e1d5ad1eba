//! Outbound email and SMS (issue #15): delivery state, retries and the dead
//! letter, behind the [`crate::ports::Delivery`] port.
//!
//! 1. A robot commits an [`Outbound`](crate::model::Outbound) record
//!    (`queued`) with a `Deliver` outbox record, in its run's transaction.
//! 2. The outbox processor calls [`Engine::deliver_outbound`](crate::Engine):
//!    it marks the record `sending` with a version-guarded write (the
//!    attempt's lease, [`retry::SENDING_LEASE_SECONDS`]) **before** it hands
//!    the message to the provider (an email with the files of its
//!    documents, read then: [`files`]), then commits the outcome: `sent` with the
//!    provider's message id; a transient error → `queued` again with
//!    `next_attempt_at` and a timer through the [`crate::ports::Scheduler`]
//!    (a job named [`job::job_for`], which the runner hands back here — it
//!    survives a crash and works on AWS); a permanent error or no attempts
//!    left → `failed` (the dead letter), with a `delivery_failed` entry on
//!    the item's timeline.
//! 3. At most once per record: a repeated outbox record or job finds the
//!    record `sent`/`failed` (nothing to do), `queued` but not due (only its
//!    timer is made sure of), or `sending` within its lease (another attempt
//!    is with the provider: its timer is set for the lease's end). A record
//!    still `sending` after its lease (the process died between the call and
//!    the commit) is tried again: a rare duplicate, which receivers
//!    de-duplicate by the email's deterministic `Message-ID`
//!    (`<out.{outbound id}@{domain}>`, see [`message_id`]).
//! 4. `POST /v1/outbox/{id}/retry` ([`Engine::retry_outbound`](crate::Engine))
//!    queues a `failed` message again, with a fresh budget.
//! 5. The run that sent a message shows a failure, a bounce or a complaint
//!    as its `delivery` ([`run_delivery`]), written with the message's new
//!    state (never on the hot path: a message sent writes nothing more).
//!
//! Robots that send nothing write nothing more: the state lives on the
//! outbound record the robot already wrote.

pub mod attempt;
pub mod files;
pub mod job;
pub mod message_id;
pub mod requeue;
pub mod retry;
pub mod router;
pub mod run_delivery;
pub mod sms_gateway;
