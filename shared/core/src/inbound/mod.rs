//! Incoming email (issue #15): a client's reply to a robot's email, or a
//! new email from a client, raises `incoming_email` for the item; bounces
//! and complaints mark the outbound message.
//!
//! - [`address`]: each tenant has one inbound address,
//!   `in_{32 hex}@{inbound domain}`, made on first use once the domain is
//!   set (`CRM_INBOUND_DOMAIN`). Robots' emails to clients carry it as
//!   `Reply-To`, and their `Message-ID` carries its id as a tag
//!   (`<out.{outbound id}.{tag}@…>`, [`crate::outbound::message_id`]).
//! - [`mail`]: MIME parsing (`mail-parser`), with size limits.
//! - [`receive`]: matching and the event ([`Engine::receive_email`]); what
//!   the local SMTP listener and the AWS SES-receiving handler call.
//! - [`feedback`]: `bounced` / `complained` ([`Engine::outbound_feedback`]),
//!   shown on the run that sent the message too.
//! - [`settings`]: the tenant's view (`GET /v1/inbound-email`).
//!
//! [`Engine::receive_email`]: crate::Engine::receive_email
//! [`Engine::outbound_feedback`]: crate::Engine::outbound_feedback

pub mod address;
pub mod feedback;
pub mod mail;
pub mod receive;
pub mod settings;

pub use feedback::Feedback;
pub use receive::Received;

/// Most envelope recipients of one mail looked at.
pub const MAX_RECIPIENTS: usize = 50;
