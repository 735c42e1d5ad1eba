//! The engine's side of the Bitrix24 REST adapter (issue #16): inbound-webhook
//! credentials ([`webhooks`]) and the registry of app trigger codes
//! ([`app_triggers`]), both kept through the [`crate::ports::DocStore`], and
//! the mapping of Bitrix owners (`DEAL_57`, `OWNER_TYPE_ID` 2) to items
//! ([`owners`]). The HTTP side (paths, parameters, envelope) is in `crm-http`.

pub mod app_triggers;
pub mod external_ids;
pub mod owners;
pub mod webhooks;

pub use app_triggers::{AppTrigger, MAX_APP_TRIGGERS, MAX_CODE_CHARS, MAX_NAME_CHARS};
pub use owners::{Owner, OwnerError};
pub use webhooks::{NewRestWebhook, RestCaller, RestWebhook};
