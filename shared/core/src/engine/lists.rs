//! The paged lists of the API (`limit` + `cursor` → `next_cursor`; see
//! [`super::paging`]).
//!
//! Work records (tasks, activities, notifications, messages, the feed, the
//! outbox), the timeline, chats and the directory are read a page at a time
//! from the store, in id order (ids are time-ordered, so oldest first);
//! records of one page are shown in the order the unpaged lists use. A
//! pipeline's robots and triggers keep their own order (pipeline position,
//! which a reorder changes) and are paged over that order: they are read
//! whole, bounded by the pipeline's limits (`automation_limits`). The run
//! log pages by visit (`run_log`).

use serde::Serialize;

use crate::error::{EngineError, Result};
use crate::model::{
    Activity, Channel, Chat, Department, FeedPost, Message, Notification, Outbound, TIMELINE_KINDS,
    Task, TimelineEntry, User,
};
use crate::ports::Kind;
use crate::robots::Robot;
use crate::store::{CHATS, DEPARTMENTS, decode};
use crate::triggers::Trigger;

use super::paging::{Page, PageRequest, hex, unhex};
use super::{Automation, Engine};

fn one(parent: impl Into<String>) -> Vec<String> {
    vec![parent.into()]
}

/// Pages a list already in memory and in its order: the cursor is the sort
/// key of the last record shown, hex-encoded.
pub(super) fn page_sorted<T>(
    all: Vec<T>,
    key: impl Fn(&T) -> String,
    req: &PageRequest,
) -> Result<Page<T>> {
    if !(1..=super::paging::MAX_PAGE).contains(&req.limit) {
        return Err(EngineError::bad(
            "limit",
            format!("must be between 1 and {}", super::paging::MAX_PAGE),
        ));
    }
    let after = match &req.cursor {
        None => None,
        Some(c) => Some(
            unhex(c)
                .ok_or_else(|| EngineError::bad("cursor", "not a cursor this server gave out"))?,
        ),
    };
    let mut rest: Vec<T> = all
        .into_iter()
        .filter(|t| after.as_ref().is_none_or(|a| key(t) > *a))
        .collect();
    let more = rest.len() > req.limit;
    rest.truncate(req.limit);
    let next_cursor = if more {
        rest.last().map(|t| hex(&key(t)))
    } else {
        None
    };
    Ok(Page {
        items: rest,
        next_cursor,
    })
}

/// A sort key that orders as the number does.
fn num(n: u64) -> String {
    format!("{n:020}")
}

fn sort_page<T>(mut page: Page<T>, key: impl FnMut(&T, &T) -> std::cmp::Ordering) -> Page<T> {
    page.items.sort_by(key);
    page
}

/// A list's records in the kinds' order of the unpaged lists.
fn by_time<T: Serialize>(
    page: Page<T>,
    at: impl Fn(&T) -> (chrono::DateTime<chrono::Utc>, &str),
) -> Page<T> {
    sort_page(page, |a, b| at(a).cmp(&at(b)))
}

impl Engine {
    /// One page of an item's tasks.
    pub async fn tasks_page(
        &self,
        tenant: &str,
        item_id: &str,
        req: &PageRequest,
    ) -> Result<Page<Task>> {
        let page = self.page_of(tenant, &one(item_id), req).await?;
        Ok(by_time(page, |t: &Task| (t.created_at, t.id.as_str())))
    }

    /// One page of an item's activities.
    pub async fn activities_page(
        &self,
        tenant: &str,
        item_id: &str,
        req: &PageRequest,
    ) -> Result<Page<Activity>> {
        let page = self.page_of(tenant, &one(item_id), req).await?;
        Ok(by_time(page, |a: &Activity| (a.created_at, a.id.as_str())))
    }

    /// One page of a user's notifications.
    pub async fn notifications_page(
        &self,
        tenant: &str,
        user_id: &str,
        req: &PageRequest,
    ) -> Result<Page<Notification>> {
        let page = self.page_of(tenant, &one(user_id), req).await?;
        Ok(by_time(page, |n: &Notification| (n.at, n.id.as_str())))
    }

    /// One page of the direct messages to a user.
    pub async fn messages_page(
        &self,
        tenant: &str,
        user_id: &str,
        req: &PageRequest,
    ) -> Result<Page<Message>> {
        let page = self
            .page_of(tenant, &one(format!("user:{user_id}")), req)
            .await?;
        Ok(by_time(page, |m: &Message| (m.at, m.id.as_str())))
    }

    /// One page of a chat's messages (404 for an unknown chat).
    pub async fn chat_page(
        &self,
        tenant: &str,
        id: &str,
        req: &PageRequest,
    ) -> Result<(Chat, Page<Message>)> {
        let (mut chat, v): (Chat, u64) = self.must(tenant, "chat", id).await?;
        chat.version = v;
        let page = self
            .page_of(tenant, &one(format!("chat:{id}")), req)
            .await?;
        Ok((chat, by_time(page, |m: &Message| (m.at, m.id.as_str()))))
    }

    /// One page of the company feed.
    pub async fn feed_page(&self, tenant: &str, req: &PageRequest) -> Result<Page<FeedPost>> {
        let page = self.page_of(tenant, &one("feed"), req).await?;
        Ok(by_time(page, |p: &FeedPost| (p.at, p.id.as_str())))
    }

    /// One page of outbound emails, SMS, calls and messenger messages (of
    /// one channel, or all of them; of one delivery status, or all).
    pub async fn outbound_page(
        &self,
        tenant: &str,
        channel: Option<Channel>,
        status: Option<crate::model::OutboundStatus>,
        req: &PageRequest,
    ) -> Result<Page<Outbound>> {
        let parents: Vec<String> = Channel::ALL
            .into_iter()
            .filter(|c| channel.is_none_or(|x| x == *c))
            .map(|c| c.as_str().to_string())
            .collect();
        let page = self
            .page_where(tenant, &parents, req, |m: &Outbound| {
                status.is_none_or(|s| m.status == s)
            })
            .await?;
        Ok(by_time(page, |m: &Outbound| (m.at, m.id.as_str())))
    }

    /// One page of an item's timeline (kept after the item is deleted),
    /// oldest first, of the kinds named in `kinds` (comma-separated; `None`:
    /// all; an unknown kind is a 400). Unknown item → 404.
    pub async fn timeline_page(
        &self,
        tenant: &str,
        item_id: &str,
        kinds: Option<&str>,
        req: &PageRequest,
    ) -> Result<Page<TimelineEntry>> {
        let wanted: Option<Vec<String>> =
            kinds.map(|k| k.split(',').map(str::trim).map(str::to_string).collect());
        if let Some(k) = wanted
            .iter()
            .flatten()
            .find(|k| !TIMELINE_KINDS.contains(&k.as_str()))
        {
            return Err(EngineError::bad(
                "kind",
                format!(
                    "unknown timeline kind '{k}' (one of {})",
                    TIMELINE_KINDS.join(", ")
                ),
            ));
        }
        let page = self
            .page_where(tenant, &one(item_id), req, |e: &TimelineEntry| {
                wanted.as_ref().is_none_or(|w| w.contains(&e.kind))
            })
            .await?;
        if page.items.is_empty() && req.cursor.is_none() {
            // Nothing of these kinds: is there an item (or a timeline)?
            let any = self
                .ports
                .store
                .list_page(tenant, Kind::Timeline, item_id, None, 1)
                .await?;
            if any.is_empty() {
                self.get_item(tenant, item_id).await?;
            }
        }
        Ok(page)
    }

    /// One page of an item's run log, in the order of [`Engine::runs`].
    /// One page of a pipeline's robots or triggers, in pipeline order.
    pub async fn automation_page<A: Automation>(
        &self,
        tenant: &str,
        pipeline_id: &str,
        req: &PageRequest,
    ) -> Result<Page<A>> {
        let all = self.list_of::<A>(tenant, pipeline_id).await?;
        page_sorted(all, |a| format!("{}|{}", num(a.order()), a.id()), req)
    }

    /// One page of a pipeline's robots, in pipeline order.
    pub async fn robots_page(
        &self,
        tenant: &str,
        pipeline_id: &str,
        req: &PageRequest,
    ) -> Result<Page<Robot>> {
        self.automation_page(tenant, pipeline_id, req).await
    }

    /// One page of a pipeline's triggers, in pipeline order.
    pub async fn triggers_page(
        &self,
        tenant: &str,
        pipeline_id: &str,
        req: &PageRequest,
    ) -> Result<Page<Trigger>> {
        self.automation_page(tenant, pipeline_id, req).await
    }

    /// One page of the tenant's departments, by id.
    pub async fn departments_page(
        &self,
        tenant: &str,
        req: &PageRequest,
    ) -> Result<Page<Department>> {
        self.page_of(tenant, &one(DEPARTMENTS), req).await
    }

    /// One page of the tenant's users: those without a department, then
    /// those of each department (by department id), each by id.
    pub async fn users_page(&self, tenant: &str, req: &PageRequest) -> Result<Page<User>> {
        let mut parents = vec![String::new()];
        let mut depts: Vec<String> = self
            .ports
            .store
            .list(tenant, Kind::Department, DEPARTMENTS)
            .await?
            .iter()
            .map(|d| decode::<Department>(d).map(|d| d.id))
            .collect::<Result<_>>()?;
        depts.sort();
        parents.extend(depts);
        self.page_of(tenant, &parents, req).await
    }

    /// One page of the tenant's chats, by id.
    pub async fn chats_page(&self, tenant: &str, req: &PageRequest) -> Result<Page<Chat>> {
        let page = self
            .page_docs(tenant, Kind::Chat, &one(CHATS), req, |_| Ok(true))
            .await?;
        let items = page
            .items
            .iter()
            .map(|d| {
                decode::<Chat>(d).map(|mut c| {
                    c.version = d.version;
                    c
                })
            })
            .collect::<Result<Vec<Chat>>>()?;
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
    fn a_sorted_list_pages_in_its_order_and_ends_with_no_cursor() {
        let all: Vec<u64> = vec![3, 1, 2, 5, 4].into_iter().collect();
        let mut sorted = all.clone();
        sorted.sort();
        let mut seen = Vec::new();
        let mut req = PageRequest::new(Some(2), None);
        loop {
            let page = page_sorted(sorted.clone(), |n| num(*n), &req).unwrap();
            seen.extend(page.items);
            match page.next_cursor {
                Some(c) => req.cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen, vec![1, 2, 3, 4, 5]);
        assert!(
            page_sorted(
                sorted.clone(),
                |n| num(*n),
                &PageRequest::new(Some(0), None)
            )
            .is_err()
        );
        let bad = PageRequest::new(Some(2), Some("zz".into()));
        assert!(page_sorted(sorted, |n| num(*n), &bad).is_err());
    }
}
