//! Items' `external_id` (issue #16): an id the integrator sets on create or
//! PATCH (a Bitrix deal's number, say), unique per tenant and entity type.
//! `DEAL_57` names the deal whose external id is `57` (else the item whose
//! own id is `57`).
//!
//! The index is one document per external id, `(tenant, external_id,
//! "<entity type>|<external id>")` → the item id, written in the item's own
//! transaction when the external id changes (never on stage moves: no cost
//! on the hot path) and created conditionally (`Absent`), so two items
//! cannot take the same external id even when they race.

use crate::engine::Engine;
use crate::error::{FieldError, Result};
use crate::model::Item;
use crate::ports::{Cond, DocKey, Kind, Write};
use crate::store::{decode, doc, put};

/// Longest external id, in characters.
pub const MAX_EXTERNAL_ID_CHARS: usize = 100;

/// Checks an external id: 1–[`MAX_EXTERNAL_ID_CHARS`] characters, no
/// control characters, no surrounding spaces.
pub fn check_external_id(v: &str) -> std::result::Result<(), String> {
    if v.is_empty() || v.trim() != v {
        return Err("must not be empty or start or end with spaces".into());
    }
    if v.chars().count() > MAX_EXTERNAL_ID_CHARS || v.chars().any(char::is_control) {
        return Err(format!(
            "at most {MAX_EXTERNAL_ID_CHARS} characters, no control characters"
        ));
    }
    Ok(())
}

fn index_key(tenant: &str, entity_type: &str, external_id: &str) -> DocKey {
    DocKey::new(
        tenant,
        Kind::ExternalId,
        format!("{entity_type}|{external_id}"),
    )
}

/// The index writes of an item change: the old external id's entry removed,
/// the new one created (conditionally), when they differ.
pub(crate) fn index_writes(
    tenant: &str,
    old: Option<&Item>,
    item: &Item,
    deleted: bool,
) -> Vec<Write> {
    let before = old.and_then(|o| o.external_id.as_deref());
    let after = if deleted {
        None
    } else {
        item.external_id.as_deref()
    };
    if before == after {
        return Vec::new();
    }
    let mut writes = Vec::new();
    if let Some(b) = before {
        writes.push(Write::Delete {
            key: index_key(tenant, &item.entity_type, b),
            parent: None,
            cond: Cond::Any,
        });
    }
    if let Some(a) = after {
        let key = index_key(tenant, &item.entity_type, a);
        writes.push(put(
            doc(tenant, Kind::ExternalId, &key.id, 1, None, &item.id),
            Cond::Absent,
        ));
    }
    writes
}

impl Engine {
    /// The id of the item of `entity_type` whose external id is `external_id`.
    pub async fn item_by_external_id(
        &self,
        tenant: &str,
        entity_type: &str,
        external_id: &str,
    ) -> Result<Option<String>> {
        match self
            .ports
            .store
            .get(&index_key(tenant, entity_type, external_id))
            .await?
        {
            Some(d) => Ok(Some(decode(&d)?)),
            None => Ok(None),
        }
    }

    /// The problems of giving `item_id` (of `entity_type`) the external id
    /// `v`: a bad value, or one another item has.
    pub(crate) async fn external_id_errors(
        &self,
        tenant: &str,
        entity_type: &str,
        v: &str,
        item_id: Option<&str>,
    ) -> Result<Vec<FieldError>> {
        if let Err(message) = check_external_id(v) {
            return Ok(vec![FieldError {
                field: "external_id".into(),
                message,
            }]);
        }
        match self.item_by_external_id(tenant, entity_type, v).await? {
            Some(other) if Some(other.as_str()) != item_id => Ok(vec![FieldError {
                field: "external_id".into(),
                message: format!("item '{other}' already has external id '{v}'"),
            }]),
            _ => Ok(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check_external_id;

    #[test]
    fn external_ids_are_short_trimmed_text() {
        assert!(check_external_id("57").is_ok());
        assert!(check_external_id("DEAL-57/a").is_ok());
        assert!(check_external_id("").is_err());
        assert!(check_external_id(" 57").is_err());
        assert!(check_external_id("a\nb").is_err());
        assert!(check_external_id(&"x".repeat(101)).is_err());
    }
}
