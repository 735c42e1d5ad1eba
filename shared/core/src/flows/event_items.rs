//! The items a queued event is evaluated for, a page at a time: its
//! `item_id`, or the items whose client phone or email it names (the client
//! index, phone key first, then email). No step reads more than a page, so
//! a client with many items makes many small steps, never one long one: on
//! AWS each page is fanned out as one queued message per item
//! ([`crate::model::FanOut`]); the local worker evaluates a page per pass.

use std::collections::HashSet;

use crate::client_index::client_ref_keys;
use crate::engine::Engine;
use crate::error::Result;
use crate::model::{ClientItemsCursor, EVENT_ITEM_SAMPLE, QueuedEvent};
use crate::ports::{DocKey, Kind};

/// Most items listed (and, on AWS, fanned out) in one step of an event.
pub const EVENT_ITEMS_PAGE: usize = 100;

/// One page of an event's items, and where the next one starts (`None`:
/// this was the last).
pub struct EventItemsPage {
    pub items: Vec<String>,
    pub next: Option<ClientItemsCursor>,
}

/// How many items an event was evaluated for, and the first of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventItemsTally {
    pub count: u64,
    pub sample: Vec<String>,
}

impl EventItemsTally {
    pub fn add(&mut self, items: &[String]) {
        self.count += items.len() as u64;
        let room = EVENT_ITEM_SAMPLE.saturating_sub(self.sample.len());
        self.sample.extend(items.iter().take(room).cloned());
    }
}

impl Engine {
    /// The page of `event`'s items that starts at `cursor` (at most
    /// `limit`, at least one unless none is left). An item whose client
    /// matches both the event's phone and its email is listed once, under
    /// the phone.
    pub async fn event_items_page(
        &self,
        event: &QueuedEvent,
        cursor: &ClientItemsCursor,
        limit: usize,
    ) -> Result<EventItemsPage> {
        if let Some(id) = &event.item_id {
            return Ok(EventItemsPage {
                items: vec![id.clone()],
                next: None,
            });
        }
        let Some(client) = &event.client else {
            return Ok(EventItemsPage {
                items: Vec::new(),
                next: None,
            });
        };
        let tenant = event.tenant.as_str();
        let keys = client_ref_keys(client);
        let mut at = cursor.clone();
        let limit = limit.max(1);
        while at.key < keys.len() {
            let key = &keys[at.key];
            let docs = self
                .ports
                .store
                .list_page(tenant, Kind::ClientIndex, key, at.after.as_deref(), limit)
                .await?;
            let full = docs.len() == limit;
            let Some(last) = docs.last() else {
                at = ClientItemsCursor {
                    key: at.key + 1,
                    after: None,
                };
                continue;
            };
            let after = last.key.id.clone();
            let listed: Vec<String> = docs
                .iter()
                .filter_map(|d| d.body.as_str().map(str::to_string))
                .collect();
            let items = self
                .not_listed_before(tenant, &keys[..at.key], listed)
                .await?;
            let next = if full {
                ClientItemsCursor {
                    key: at.key,
                    after: Some(after),
                }
            } else {
                ClientItemsCursor {
                    key: at.key + 1,
                    after: None,
                }
            };
            let next = (next.key < keys.len()).then_some(next);
            if items.is_empty() {
                match next {
                    Some(n) => {
                        at = n;
                        continue;
                    }
                    None => break,
                }
            }
            return Ok(EventItemsPage { items, next });
        }
        Ok(EventItemsPage {
            items: Vec::new(),
            next: None,
        })
    }

    /// `items` without those also indexed under one of the `earlier` client
    /// keys (listed in an earlier page already): one batch read.
    async fn not_listed_before(
        &self,
        tenant: &str,
        earlier: &[String],
        items: Vec<String>,
    ) -> Result<Vec<String>> {
        if earlier.is_empty() {
            return Ok(items);
        }
        let keys: Vec<DocKey> = earlier
            .iter()
            .flat_map(|k| {
                items
                    .iter()
                    .map(move |id| DocKey::new(tenant, Kind::ClientIndex, format!("{k}|{id}")))
            })
            .collect();
        let seen: HashSet<String> = self
            .ports
            .store
            .get_many(&keys)
            .await?
            .into_iter()
            .flatten()
            .filter_map(|d| d.body.as_str().map(str::to_string))
            .collect();
        Ok(items.into_iter().filter(|id| !seen.contains(id)).collect())
    }
}
