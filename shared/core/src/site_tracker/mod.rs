//! Site tracker (issue #15): a script on the tenant's site sends a beacon
//! per page view (`POST /t/v` with `{site_key, visitor_id, url, referrer}`).
//!
//! - [`site_keys`]: the per-tenant public keys a beacon names (`sk_` + 128
//!   random bits; a `_system` lookup document finds the tenant, as for web
//!   forms). An unknown key does nothing.
//! - [`visitor`]: one document per visitor id, `(tenant, visitor, <id>)`:
//!   the client it is tied to (by a form submitted with the visitor id) and
//!   when it was last seen. A visit of a tied visitor raises `site_visit`
//!   (`data.url`) for the client's items, and also `client_returned` when
//!   the visitor's previous visit was more than [`visitor::RETURN_AFTER_MINUTES`]
//!   minutes earlier. Anonymous visitors raise nothing; their document
//!   expires [`visitor::ANONYMOUS_TTL_DAYS`] days after their last visit.

pub mod site_keys;
pub mod visitor;

pub use site_keys::SiteKey;
pub use visitor::{Beacon, VisitOutcome};
