//! `copy_item`: a copy of the item, on the first stage or the one named (an
//! automatic move: counted by loop protection).

use super::prelude::*;
use crate::model::{Item, ItemChange, RunStatus, StageMove, TimelineEntry};
use crate::ports::Write;
use crate::store::timeline_id;

/// How long a chain's counter of created items is kept (days): longer than
/// the longest delay ([`crate::delay::MAX_DELAY_DAYS`]).
const COUNTER_DAYS: i64 = 400;

/// `copy_item`: a copy of the item. Each causal chain may create at most
/// 100 items (the engine's `max_items_per_chain`); further copies are
/// `loop_stopped` with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyItem {
    #[serde(default)]
    pub responsible_id: Option<String>,
    #[serde(default)]
    pub stage_id: Option<String>,
}

impl RobotType for CopyItem {
    const GROUP: Group = Group::ItemManagement;
    const DESCRIPTION: &'static str = "Copy the item";
    const OUTPUTS: &'static [&'static str] = &["item_id"];

    fn check(&self, cx: &mut Check<'_>) {
        cx.opt_user("settings.responsible_id", self.responsible_id.as_ref());
        if let Some(st) = &self.stage_id {
            cx.stage("settings.stage_id", st);
        }
    }

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        let (tenant, item, now) = (cx.tenant, cx.item, cx.now);
        let stage = self
            .stage_id
            .clone()
            .unwrap_or_else(|| cx.pipeline.stages[0].id.clone());
        let Some(chain) = cx.next_hop() else {
            return Ok(cx.loop_stopped(&stage));
        };
        // The chain's budget of created items (breadth; the hops bound depth):
        // a counter per chain, written with the copy on the version read, so
        // two copies racing in one chain cannot both take the last unit.
        let budget = cx.engine.config().max_items_per_chain;
        let counter_id = format!("chain-items:{}", chain.id);
        let (created, cv) = cx
            .engine
            .load_kind::<u64>(tenant, Kind::Counter, &counter_id)
            .await?
            .unwrap_or((0, 0));
        if created >= budget {
            return Ok(Effect::ended(
                RunStatus::LoopStopped,
                format!(
                    "loop stopped: chain {} already created {created} items (limit {budget} per chain); not copying",
                    chain.id
                ),
            ));
        }
        let mut counter = doc(tenant, Kind::Counter, &counter_id, cv + 1, None, &(created + 1));
        // Kept past the longest delay, so a chain cannot outlive its budget.
        counter.expires_at = Some((now + chrono::Duration::days(COUNTER_DAYS)).timestamp());
        let responsible = match &self.responsible_id {
            Some(r) => cx.resolve_user(r).await?,
            None => item.responsible_id.clone(),
        };
        let id = cx.id("item");
        let copy = Item {
            id: id.clone(),
            stage_id: stage.clone(),
            visit: 1,
            visit_started_at: now,
            responsible_id: responsible,
            created_at: now,
            updated_at: now,
            version: 1,
            chain: chain.clone(),
            stage_time: Default::default(),
            // External ids are unique: a copy has none.
            external_id: None,
            ..item.clone()
        };
        let change = ItemChange {
            tenant: tenant.to_string(),
            item_id: id.clone(),
            version: 1,
            at: now,
            author_id: None,
            stage: Some(StageMove {
                from_stage: None,
                from_visit: 0,
                to_stage: stage,
                to_visit: 1,
            }),
            changed: Vec::new(),
            responsible_changed: false,
            deleted: false,
            chain,
            report: None,
        };
        let tl = vec![TimelineEntry {
            id: timeline_id(now, 1, 0, &format!("{id}-created")),
            item_id: id.clone(),
            at: now,
            kind: "created".into(),
            author_id: None,
            text: format!("Copied from {}", item.id),
            data: serde_json::json!({"copied_from": item.id}),
        }];
        let mut writes = cx
            .engine
            .item_change_writes(tenant, None, &copy, &change, tl);
        // A repeated run finds the copy already there: same id, one copy.
        if let Some(Write::Put { cond, .. }) = writes.first_mut() {
            *cond = Cond::Any;
        }
        writes.push(put(counter, crate::store::cond_for(cv)));
        Ok(Effect::done(writes).output("item_id", id))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::robots::check_tests::check;

    #[test]
    fn the_target_stage_must_exist() {
        assert!(check("copy_item", json!({})).0.is_empty());
        let (errors, _) = check("copy_item", json!({"stage_id": "nowhere"}));
        assert_eq!(errors, ["settings.stage_id"]);
    }
}
