//! Web forms (issue #15): forms defined through the API, submitted by the
//! public through `POST /f/{form_id}` (no API key).
//!
//! A form's id is public (it is in the page that embeds the form), so it is
//! unguessable (`wf_` + 128 random bits) and names no tenant. Two documents
//! per form, written together (as [`crate::bitrix::webhooks`] does for
//! inbound-webhook secrets):
//!
//! - `(tenant, web_form, <id>)`, listed under `all`: the definition;
//! - `(_system, web_form, <id>)`, unlisted: `{tenant}`, the one point read
//!   that tells a public submission which tenant it is for. Deleting a form
//!   deletes both, so its page and its posts answer 404.
//!
//! A submission ([`submission`]) validates the values against the form,
//! matches an open item of the client in the form's pipeline (by email or
//! phone, through the client index) or creates one, and raises
//! `form_submitted` (`data.form_id`) for it through the event ingestion.

pub mod form;
pub mod registry;
pub mod submission;

pub use form::{FieldKind, FormBody, FormField, WebForm};
pub use submission::{FormInput, FormOutcome, HONEYPOT_FIELD, VISITOR_FIELD};
