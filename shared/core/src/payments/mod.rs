//! Payment webhooks (issue #15): a payment provider tells us an invoice was
//! paid, and `invoice_paid` is raised for the item it names.
//!
//! - [`provider`]: a tenant's configuration of a provider (`PUT
//!   /v1/payment-providers/stripe`): its webhook signing secret and the
//!   unguessable endpoint id of its webhook URL (`/v1/webhooks/payments/
//!   stripe/{endpoint_id}`), which finds the tenant before the signature is
//!   checked (a `_system` lookup document, as for web forms).
//! - [`stripe_signature`]: Stripe's `Stripe-Signature` scheme.
//! - [`stripe_event`]: which Stripe events pay which item.

pub mod provider;
pub mod stripe_event;
pub mod stripe_signature;

pub use provider::{PaymentProvider, ProviderConfig};
pub use stripe_event::{PaymentOutcome, StripePaid};
pub use stripe_signature::{SignatureError, TOLERANCE_SECONDS, verify_stripe_signature};
