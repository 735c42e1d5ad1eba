//! Bitrix owners (`DEAL_57`, `OWNER_TYPE_ID` 2 + `OWNER_ID` 57) and the items
//! they name.
//!
//! Entity types: `LEAD` / 1 → `lead`, `DEAL` / 2 → `deal`, `QUOTE` / 7 →
//! `quote`, `SMART_INVOICE` / 31 → `invoice`, `DYNAMIC_{n}` / n ≥ 128 →
//! `smart:{n}`. The id names the item of that entity type whose
//! `external_id` it is ([`super::external_ids`]), else the item with that
//! id, which must be of that entity type (a deal under `LEAD_` is not found).

use crate::engine::Engine;
use crate::error::Result;
use crate::model::Item;

/// An item as Bitrix names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Our entity type (`deal`, `lead`, `quote`, `invoice`, `smart:<n>`).
    pub entity_type: String,
    /// The id part.
    pub id: String,
}

/// Why an owner cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OwnerError {
    /// Not `<TYPE>_<id>` with a known type.
    #[error(
        "'{0}' is not a target like DEAL_57, LEAD_25, QUOTE_3, SMART_INVOICE_4 or DYNAMIC_128_5"
    )]
    Target(String),
    /// An entity type id other than 1, 2, 7, 31 or ≥ 128.
    #[error("unknown entity type id {0} (1 lead, 2 deal, 7 quote, 31 smart invoice, 128+ dynamic)")]
    TypeId(i64),
    /// An empty or over-long id, or one with characters ids never have.
    #[error("'{0}' is not an item id")]
    Id(String),
}

/// Longest id part accepted.
const MAX_ID_CHARS: usize = 100;

fn check_id(id: &str) -> std::result::Result<String, OwnerError> {
    let id = id.trim();
    if id.is_empty()
        || id.chars().count() > MAX_ID_CHARS
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(OwnerError::Id(id.to_string()));
    }
    Ok(id.to_string())
}

impl Owner {
    /// Parses a `crm.automation.trigger` target (case-insensitive type).
    pub fn from_target(target: &str) -> std::result::Result<Owner, OwnerError> {
        let t = target.trim();
        let upper = t.to_ascii_uppercase();
        let bad = || OwnerError::Target(t.to_string());
        let (entity_type, rest) = if let Some(i) = strip(&upper, t, "SMART_INVOICE_") {
            ("invoice".to_string(), i)
        } else if let Some(rest) = strip(&upper, t, "DYNAMIC_") {
            let (n, id) = rest.split_once('_').ok_or_else(bad)?;
            let n: i64 = n.parse().map_err(|_| bad())?;
            if n < 128 {
                return Err(OwnerError::TypeId(n));
            }
            (format!("smart:{n}"), id)
        } else if let Some(i) = strip(&upper, t, "DEAL_") {
            ("deal".to_string(), i)
        } else if let Some(i) = strip(&upper, t, "LEAD_") {
            ("lead".to_string(), i)
        } else if let Some(i) = strip(&upper, t, "QUOTE_") {
            ("quote".to_string(), i)
        } else {
            return Err(bad());
        };
        Ok(Owner {
            entity_type,
            id: check_id(rest)?,
        })
    }

    /// From `OWNER_TYPE_ID` and `OWNER_ID`.
    pub fn from_type_id(type_id: i64, id: &str) -> std::result::Result<Owner, OwnerError> {
        let entity_type = match type_id {
            1 => "lead".to_string(),
            2 => "deal".to_string(),
            7 => "quote".to_string(),
            31 => "invoice".to_string(),
            n if n >= 128 => format!("smart:{n}"),
            n => return Err(OwnerError::TypeId(n)),
        };
        Ok(Owner {
            entity_type,
            id: check_id(id)?,
        })
    }
}

/// `original` without `prefix` when `upper` (its upper-case copy) starts with it.
fn strip<'a>(upper: &str, original: &'a str, prefix: &str) -> Option<&'a str> {
    upper.starts_with(prefix).then(|| &original[prefix.len()..])
}

impl Engine {
    /// The item `owner` names, if it exists and is of the owner's entity
    /// type: the item whose external id is the owner's id, else the item
    /// with that id.
    pub async fn find_owner(&self, tenant: &str, owner: &Owner) -> Result<Option<Item>> {
        let id = self
            .item_by_external_id(tenant, &owner.entity_type, &owner.id)
            .await?
            .unwrap_or_else(|| owner.id.clone());
        Ok(self
            .load_item(tenant, &id)
            .await?
            .filter(|item| item.entity_type == owner.entity_type))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(t: &str, id: &str) -> Owner {
        Owner {
            entity_type: t.into(),
            id: id.into(),
        }
    }

    #[test]
    fn targets_name_entity_types() {
        assert_eq!(Owner::from_target("DEAL_57"), Ok(o("deal", "57")));
        assert_eq!(Owner::from_target("deal_item-1"), Ok(o("deal", "item-1")));
        assert_eq!(Owner::from_target("LEAD_25"), Ok(o("lead", "25")));
        assert_eq!(Owner::from_target("QUOTE_3"), Ok(o("quote", "3")));
        assert_eq!(Owner::from_target("SMART_INVOICE_4"), Ok(o("invoice", "4")));
        assert_eq!(Owner::from_target("DYNAMIC_128_5"), Ok(o("smart:128", "5")));
        assert!(Owner::from_target("DYNAMIC_12_5").is_err());
        assert!(Owner::from_target("CONTACT_5").is_err());
        assert!(Owner::from_target("DEAL_").is_err());
        assert!(Owner::from_target("DEAL_a b").is_err());
    }

    #[test]
    fn type_ids_name_entity_types() {
        assert_eq!(Owner::from_type_id(2, "57"), Ok(o("deal", "57")));
        assert_eq!(Owner::from_type_id(1, "5"), Ok(o("lead", "5")));
        assert_eq!(Owner::from_type_id(7, "5"), Ok(o("quote", "5")));
        assert_eq!(Owner::from_type_id(31, "5"), Ok(o("invoice", "5")));
        assert_eq!(Owner::from_type_id(130, "5"), Ok(o("smart:130", "5")));
        assert_eq!(Owner::from_type_id(3, "5"), Err(OwnerError::TypeId(3)));
    }
}
