//! Open and click tracking of robot emails (issue #15).
//!
//! When `email_client` composes an HTML email to the item's client and the
//! pipeline's `email_tracking` is on (the default), the engine adds a 1×1
//! pixel (`{public}/t/o/{token}`) and rewrites every `http(s)` link of an
//! `<a>`/`<area>` tag to `{public}/t/c/{token}` ([`rewrite`]). Plain-text
//! bodies are left as they are (no pixel can be shown, and a rewritten
//! link would be visible to the reader).
//!
//! Tokens ([`token`]) are stateless: the payload (tenant, item, outbound
//! message, open or click, the original URL of a click) in compact JSON,
//! base64url, then a dot and 128 bits of HMAC-SHA256 under the tenant's
//! tracking key ([`key`]: 256 random bits, made on first use and kept as a
//! document; never rotated, so a sent email's links keep working). Nothing
//! is written per link.
//!
//! [`hit`]: a verified token raises `email_read` / `email_link_clicked`
//! (`data.url`) for the item through the same ingestion as `POST
//! /v1/events`, with an idempotency key derived from the message (and the
//! URL), so an email fires `email_read` once and each of its links fires
//! `email_link_clicked` once, however often it is opened or clicked.

pub mod compose;
pub mod hit;
pub mod key;
pub mod rewrite;
pub mod token;

pub use hit::{TrackError, TrackHit};
pub use token::{TrackKind, TrackToken};
