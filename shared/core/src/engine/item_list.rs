//! `GET /v1/items`: a pipeline's items, paged by id with an opaque cursor,
//! optionally of one stage or matching a search text (the kanban).

use crate::error::{EngineError, Result};
use crate::model::{Item, Pipeline};
use crate::ports::Kind;
use crate::store::decode;

use super::Engine;

/// Largest page size a client may ask for.
pub const MAX_ITEM_PAGE: usize = 200;

/// How many stored items one request reads at most while filtering (a stage
/// or search filter may skip many): the page ends early with a cursor then.
const MAX_SCANNED: usize = 2_000;

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ItemQuery {
    /// The pipeline (required).
    pub pipeline_id: String,
    /// Only items in this stage.
    pub stage_id: Option<String>,
    /// Only items whose title, client name, phone or email contains this
    /// text (case-insensitive).
    pub q: Option<String>,
    /// Page size (1..=[`MAX_ITEM_PAGE`]).
    pub limit: usize,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One page of items.
#[derive(Debug, Clone)]
pub struct ItemPage {
    /// Items in id order.
    pub items: Vec<Item>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// The cursor is the last id seen, hex-encoded: opaque to clients, and it
/// never carries characters that need escaping in a query string.
pub(crate) fn encode_cursor(last_id: &str) -> String {
    super::paging::hex(last_id)
}

pub(crate) fn decode_cursor(cursor: &str) -> Result<String> {
    super::paging::unhex(cursor)
        .ok_or_else(|| EngineError::bad("cursor", "not a cursor this server gave out"))
}

fn matches(item: &Item, stage: Option<&str>, needle: Option<&str>) -> bool {
    if stage.is_some_and(|s| s != item.stage_id) {
        return false;
    }
    let Some(needle) = needle else { return true };
    [
        Some(item.title.as_str()),
        item.client.name.as_deref(),
        item.client.phone.as_deref(),
        item.client.email.as_deref(),
    ]
    .into_iter()
    .flatten()
    .any(|text| text.to_lowercase().contains(needle))
}

impl Engine {
    /// One page of a pipeline's items (404 for an unknown pipeline). Reads
    /// the store a page at a time, so that a large pipeline is never read
    /// whole by one request.
    pub async fn list_items(&self, tenant: &str, query: ItemQuery) -> Result<ItemPage> {
        if !(1..=MAX_ITEM_PAGE).contains(&query.limit) {
            return Err(EngineError::bad(
                "limit",
                format!("must be between 1 and {MAX_ITEM_PAGE}"),
            ));
        }
        self.must::<Pipeline>(tenant, "pipeline", &query.pipeline_id)
            .await?;
        let mut after = query.cursor.as_deref().map(decode_cursor).transpose()?;
        let needle = query
            .q
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_lowercase);
        let mut items = Vec::new();
        let mut scanned = 0;
        loop {
            let want = query.limit - items.len();
            // One more than needed tells whether anything follows.
            let docs = self
                .ports
                .store
                .list_page(
                    tenant,
                    Kind::Item,
                    &query.pipeline_id,
                    after.as_deref(),
                    want + 1,
                )
                .await?;
            let more = docs.len() > want;
            for doc in docs.iter().take(want) {
                scanned += 1;
                after = Some(doc.key.id.clone());
                let mut item: Item = decode(doc)?;
                item.version = doc.version;
                if matches(&item, query.stage_id.as_deref(), needle.as_deref()) {
                    items.push(item);
                }
            }
            if !more {
                return Ok(ItemPage {
                    items,
                    next_cursor: None,
                });
            }
            if items.len() == query.limit || scanned >= MAX_SCANNED {
                return Ok(ItemPage {
                    items,
                    next_cursor: after.as_deref().map(encode_cursor),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{decode_cursor, encode_cursor};

    #[test]
    fn a_cursor_decodes_to_the_id_it_was_made_of_and_garbage_is_refused() {
        for id in ["i-1", "deal:ü/7", "x"] {
            assert_eq!(decode_cursor(&encode_cursor(id)).unwrap(), id);
        }
        for bad in ["", "abc", "zz", "ff"] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }
}
