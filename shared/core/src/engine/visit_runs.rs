//! The run records of one visit of an item, read by their ids' prefix
//! (`{item}:{visit}:`, [`crate::planning::run_id`]) and never the item's
//! whole run log: what ending a visit, following a date field, stopping
//! automation and a robot's use of earlier outputs read (issue #11: no
//! engine step reads an unbounded list). A visit has one run per robot its
//! stage had when it began. What is listed is a robot run of that visit,
//! nothing else (a trigger evaluation's id is `{item}:evt:…`): callers need
//! not check the kind or the visit again.

use super::Engine;
use crate::error::Result;
use crate::model::RunRecord;
use crate::planning::run_id;
use crate::ports::{Doc, Kind};
use crate::store::decode;

impl Engine {
    /// The run record documents of `visit` of `item_id`, by id.
    pub(crate) async fn visit_run_docs(
        &self,
        tenant: &str,
        item_id: &str,
        visit: u64,
    ) -> Result<Vec<Doc>> {
        let prefix = run_id(item_id, visit, "");
        Ok(self
            .ports
            .store
            .list_prefix(tenant, Kind::Run, item_id, &prefix)
            .await?)
    }

    /// The run records of `visit` of `item_id`, by id.
    pub(crate) async fn visit_runs(
        &self,
        tenant: &str,
        item_id: &str,
        visit: u64,
    ) -> Result<Vec<RunRecord>> {
        self.visit_run_docs(tenant, item_id, visit)
            .await?
            .iter()
            .map(decode)
            .collect()
    }
}
