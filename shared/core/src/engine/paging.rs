//! Pages of the lists the API serves: `limit` records at a time, with an
//! opaque cursor that says where the next page starts.
//!
//! A list is one or more store lists (a kind under a parent, see
//! [`DocStore::list_page`](crate::ports::DocStore::list_page)) read one after
//! the other, each in id order; the cursor is the position (which parent,
//! the last id seen), hex-encoded. The stores seek to the cursor (SQLite by
//! its index, DynamoDB by `sk > cursor`), so a page costs one page of reads
//! whatever the list's length. Records are returned in id order across
//! pages; ids are time-ordered (UUID v7, timeline ids by time), so a list
//! reads oldest first. A filter (a timeline kind) reads at most
//! [`MAX_SCANNED`] records per request and may end a page early, with a
//! cursor.

use crate::error::{EngineError, Result};
use crate::ports::{Doc, Kind};
use crate::store::{Record, decode};

use super::Engine;

/// Page size when the client gives none.
pub const DEFAULT_PAGE: usize = 50;
/// Largest page size a client may ask for.
pub const MAX_PAGE: usize = 200;
/// Most stored records one filtered request reads.
const MAX_SCANNED: usize = 2_000;

/// Which page: `limit` records after `cursor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Page size, 1..=[`MAX_PAGE`].
    pub limit: usize,
    /// The `next_cursor` of the previous page (`None`: the first page).
    pub cursor: Option<String>,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            limit: DEFAULT_PAGE,
            cursor: None,
        }
    }
}

impl PageRequest {
    /// A request from the query's `limit` (default [`DEFAULT_PAGE`]) and
    /// `cursor` (empty = none).
    pub fn new(limit: Option<usize>, cursor: Option<String>) -> Self {
        PageRequest {
            limit: limit.unwrap_or(DEFAULT_PAGE),
            cursor: cursor.filter(|c| !c.is_empty()),
        }
    }

    pub(crate) fn check(&self) -> Result<()> {
        if (1..=MAX_PAGE).contains(&self.limit) {
            Ok(())
        } else {
            Err(EngineError::bad(
                "limit",
                format!("must be between 1 and {MAX_PAGE}"),
            ))
        }
    }
}

/// One page of records.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The records of this page.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// The same page with its records mapped.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

/// Text as lowercase hex: cursors are opaque to clients and never carry
/// characters that need escaping in a query string.
pub(crate) fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The text of [`hex`]; `None` for anything else.
pub(crate) fn unhex(s: &str) -> Option<String> {
    if s.is_empty() || !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

/// A position: the index of the parent list and the last id read there.
fn encode_cursor(parent: usize, last_id: &str) -> String {
    hex(&format!("{parent}\u{1f}{last_id}"))
}

fn decode_cursor(cursor: &str, parents: usize) -> Result<(usize, String)> {
    let bad = || EngineError::bad("cursor", "not a cursor this server gave out");
    let text = unhex(cursor).ok_or_else(bad)?;
    let (n, id) = text.split_once('\u{1f}').ok_or_else(bad)?;
    let n: usize = n.parse().map_err(|_| bad())?;
    if n >= parents {
        return Err(bad());
    }
    Ok((n, id.to_string()))
}

impl Engine {
    /// One page of the documents of `kind` under `parents` (read in that
    /// order, each in id order) that `keep` accepts.
    pub(crate) async fn page_docs(
        &self,
        tenant: &str,
        kind: Kind,
        parents: &[String],
        req: &PageRequest,
        keep: impl Fn(&Doc) -> Result<bool>,
    ) -> Result<Page<Doc>> {
        req.check()?;
        let (mut p, mut after) = match &req.cursor {
            Some(c) => {
                let (p, id) = decode_cursor(c, parents.len().max(1))?;
                // An empty id: the start of that parent's list.
                (p, Some(id).filter(|id| !id.is_empty()))
            }
            None => (0, None),
        };
        let mut out = Vec::new();
        let mut scanned = 0;
        while p < parents.len() {
            let want = req.limit - out.len();
            // One more than needed tells whether this list goes on.
            let docs = self
                .ports
                .store
                .list_page(tenant, kind, &parents[p], after.as_deref(), want + 1)
                .await?;
            let more = docs.len() > want;
            for doc in docs.into_iter().take(want) {
                scanned += 1;
                after = Some(doc.key.id.clone());
                if keep(&doc)? {
                    out.push(doc);
                }
            }
            let full = out.len() == req.limit || scanned >= MAX_SCANNED;
            if !more {
                p += 1;
                after = None;
                if full {
                    // The next page starts with the next parent (it may be empty).
                    let next = (p < parents.len()).then(|| encode_cursor(p, ""));
                    return Ok(Page {
                        items: out,
                        next_cursor: next,
                    });
                }
                continue;
            }
            if full {
                let last = after.as_deref().unwrap_or_default();
                return Ok(Page {
                    items: out,
                    next_cursor: Some(encode_cursor(p, last)),
                });
            }
        }
        Ok(Page {
            items: out,
            next_cursor: None,
        })
    }

    /// One page of the records listed under `parents` (in order), in id
    /// order within each.
    pub(crate) async fn page_of<T: Record>(
        &self,
        tenant: &str,
        parents: &[String],
        req: &PageRequest,
    ) -> Result<Page<T>> {
        self.page_where(tenant, parents, req, |_: &T| true).await
    }

    /// As [`Engine::page_of`], keeping only the records `keep` accepts.
    pub(crate) async fn page_where<T: Record>(
        &self,
        tenant: &str,
        parents: &[String],
        req: &PageRequest,
        keep: impl Fn(&T) -> bool,
    ) -> Result<Page<T>> {
        let page = self
            .page_docs(tenant, T::KIND, parents, req, |d| {
                Ok(keep(&decode::<T>(d)?))
            })
            .await?;
        let items = page.items.iter().map(decode).collect::<Result<Vec<T>>>()?;
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_decodes_to_its_position_and_garbage_is_refused() {
        for (p, id) in [(0, "i-1"), (3, "deal:ü/7"), (1, "")] {
            assert_eq!(
                decode_cursor(&encode_cursor(p, id), 4).unwrap(),
                (p, id.to_string())
            );
        }
        assert!(
            decode_cursor(&encode_cursor(4, "x"), 4).is_err(),
            "parent out of range"
        );
        for bad in ["", "abc", "zz", "ff", "6869"] {
            assert!(decode_cursor(bad, 1).is_err(), "{bad}");
        }
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert!(PageRequest::new(Some(0), None).check().is_err());
        assert!(PageRequest::new(Some(201), None).check().is_err());
        assert!(PageRequest::new(Some(200), None).check().is_ok());
        assert_eq!(
            PageRequest::new(None, Some(String::new())),
            PageRequest::default()
        );
    }
}
