//! The registry of app trigger codes (`crm.automation.trigger.add` /
//! `.list` / `.delete`): per tenant, one document per code under `all`.
//!
//! A registered code is what `crm.automation.trigger.execute` accepts and
//! what a `webhook` trigger's `code` setting matches: executing a code raises
//! a `webhook` event with `data.code` = the code for the owner's item.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::error::{EngineError, FieldError, Result};
use crate::ports::{Cond, DocKey, Kind, Write};
use crate::store::{decode, doc, put};

/// The parent the codes are listed under.
const LISTED: &str = "all";
/// Longest code, in characters (`[a-z0-9.\-_]`).
pub const MAX_CODE_CHARS: usize = 64;
/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Most codes one tenant may register.
pub const MAX_APP_TRIGGERS: usize = 500;

/// A registered trigger code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppTrigger {
    /// `[a-z0-9.\-_]{1,64}`.
    pub code: String,
    /// What the board shows.
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Checks a code: 1–[`MAX_CODE_CHARS`] of `[a-z0-9.\-_]`.
pub fn check_code(code: &str) -> std::result::Result<(), String> {
    if code.is_empty() || code.chars().count() > MAX_CODE_CHARS {
        return Err(format!("must have 1 to {MAX_CODE_CHARS} characters"));
    }
    if !code
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
    {
        return Err("may only contain a-z, 0-9, '.', '-' and '_'".into());
    }
    Ok(())
}

fn key(tenant: &str, code: &str) -> DocKey {
    DocKey::new(tenant, Kind::AppTrigger, code)
}

impl Engine {
    /// Register `code` named `name`, or rename it if it is registered
    /// (upsert). Errors: 422 naming `code` or `name`; 422 when the tenant
    /// already has [`MAX_APP_TRIGGERS`] codes.
    pub async fn upsert_app_trigger(
        &self,
        tenant: &str,
        code: &str,
        name: &str,
    ) -> Result<AppTrigger> {
        let mut errors = Vec::new();
        if let Err(message) = check_code(code) {
            errors.push(FieldError {
                field: "code".into(),
                message,
            });
        }
        if name.trim().is_empty()
            || name.chars().count() > MAX_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            errors.push(FieldError {
                field: "name".into(),
                message: format!(
                    "must have 1 to {MAX_NAME_CHARS} characters and no control characters"
                ),
            });
        }
        crate::engine::unprocessable(errors)?;
        for _ in 0..=self.config.max_retries {
            let now = self.now();
            let current = self.ports.store.get(&key(tenant, code)).await?;
            let (record, version) = match current {
                Some(d) => {
                    let mut r: AppTrigger = decode(&d)?;
                    if r.name == name {
                        return Ok(r);
                    }
                    r.name = name.to_string();
                    r.updated_at = now;
                    (r, d.version)
                }
                None => {
                    let count = self
                        .ports
                        .store
                        .list(tenant, Kind::AppTrigger, LISTED)
                        .await?
                        .len();
                    if count >= MAX_APP_TRIGGERS {
                        return Err(EngineError::invalid(
                            "code",
                            format!("at most {MAX_APP_TRIGGERS} trigger codes per account"),
                        ));
                    }
                    let r = AppTrigger {
                        code: code.to_string(),
                        name: name.to_string(),
                        created_at: now,
                        updated_at: now,
                    };
                    (r, 0)
                }
            };
            let write = put(
                doc(
                    tenant,
                    Kind::AppTrigger,
                    code,
                    version + 1,
                    Some(LISTED),
                    &record,
                ),
                crate::store::cond_for(version),
            );
            match self.ports.store.transact(vec![write]).await {
                Ok(()) => return Ok(record),
                Err(crate::ports::StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::Conflict(format!(
            "trigger code '{code}' changed concurrently; retry"
        )))
    }

    /// Every registered code, in code order (at most [`MAX_APP_TRIGGERS`]).
    pub async fn app_triggers(&self, tenant: &str) -> Result<Vec<AppTrigger>> {
        self.ports
            .store
            .list(tenant, Kind::AppTrigger, LISTED)
            .await?
            .iter()
            .map(decode)
            .collect()
    }

    /// The registered code `code`, if any.
    pub async fn app_trigger(&self, tenant: &str, code: &str) -> Result<Option<AppTrigger>> {
        match self.ports.store.get(&key(tenant, code)).await? {
            Some(d) => Ok(Some(decode(&d)?)),
            None => Ok(None),
        }
    }

    /// Unregister `code`. Unknown code → 404.
    pub async fn delete_app_trigger(&self, tenant: &str, code: &str) -> Result<()> {
        if self.app_trigger(tenant, code).await?.is_none() {
            return Err(EngineError::not_found("trigger code", code));
        }
        self.ports
            .store
            .transact(vec![Write::Delete {
                key: key(tenant, code),
                parent: Some(LISTED.to_string()),
                cond: Cond::Any,
            }])
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::check_code;

    #[test]
    fn codes_are_short_lower_case_tokens() {
        for ok in ["a", "pay.done", "form-1_x", &"z".repeat(64)] {
            assert!(check_code(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Pay", "a b", "é", &"z".repeat(65), "a/b"] {
            assert!(check_code(bad).is_err(), "{bad}");
        }
    }
}
