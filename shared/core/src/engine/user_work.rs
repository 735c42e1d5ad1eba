//! The tasks and activities of one responsible user, a page at a time: the
//! page of list entries under the user (see [`crate::user_work`]), then the
//! records they name, read by key in one batch. An unknown user (or one of
//! another tenant) has no entries: an empty list.

use crate::error::Result;
use crate::model::{Activity, Task};
use crate::ports::{DocKey, Kind};
use crate::store::decode;

use super::Engine;
use super::paging::{Page, PageRequest};

impl Engine {
    /// One page of the tasks whose responsible is `user_id`, oldest first.
    pub async fn user_tasks_page(
        &self,
        tenant: &str,
        user_id: &str,
        req: &PageRequest,
    ) -> Result<Page<Task>> {
        let page = self
            .user_entries(tenant, Kind::UserTask, Kind::Task, user_id, req)
            .await?;
        let items = page
            .items
            .iter()
            .map(|d| {
                decode::<Task>(d).map(|mut t| {
                    t.version = d.version;
                    t
                })
            })
            .collect::<Result<Vec<Task>>>()?;
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    /// One page of the activities whose responsible is `user_id`, oldest
    /// first.
    pub async fn user_activities_page(
        &self,
        tenant: &str,
        user_id: &str,
        req: &PageRequest,
    ) -> Result<Page<Activity>> {
        let page = self
            .user_entries(tenant, Kind::UserActivity, Kind::Activity, user_id, req)
            .await?;
        let items = page
            .items
            .iter()
            .map(decode)
            .collect::<Result<Vec<Activity>>>()?;
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    /// The records of `kind` named by one page of `entry` list entries
    /// under `user_id`, in the entries' (id, so creation) order.
    async fn user_entries(
        &self,
        tenant: &str,
        entry: Kind,
        kind: Kind,
        user_id: &str,
        req: &PageRequest,
    ) -> Result<Page<crate::ports::Doc>> {
        let page = self
            .page_docs(tenant, entry, &[user_id.to_string()], req, |_| Ok(true))
            .await?;
        let keys: Vec<DocKey> = page
            .items
            .iter()
            .map(|d| DocKey::new(tenant, kind, &d.key.id))
            .collect();
        let docs = if keys.is_empty() {
            Vec::new()
        } else {
            self.ports.store.get_many(&keys).await?
        };
        Ok(Page {
            // An entry is written with its record, so each names one.
            items: docs.into_iter().flatten().collect(),
            next_cursor: page.next_cursor,
        })
    }
}
