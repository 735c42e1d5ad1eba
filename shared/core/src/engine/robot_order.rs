//! Reordering the robots of one stage.
//!
//! A robot's `order` is its position in the pipeline (robots of all stages
//! share one sequence). A new order of a stage's robots hands the positions
//! those robots already hold to them in the new sequence, so robots of
//! other stages keep theirs. `after_previous` chains and the outputs a robot
//! may use ("earlier robots") follow the new order from the next visit on;
//! visits already planned keep the order they were planned with.

use std::collections::{HashMap, HashSet};

use crate::error::{EngineError, FieldError, Result};
use crate::model::Pipeline;
use crate::ports::{Cond, MAX_TRANSACTION_WRITES};
use crate::robots::{Robot, validate_robot};
use crate::store::{put, record_doc};

use super::{Engine, unprocessable};

/// Most robots one stage may hold for a reorder (one transaction).
pub const MAX_REORDERED: usize = MAX_TRANSACTION_WRITES;

fn robot_ids_error(message: impl Into<String>) -> EngineError {
    EngineError::Unprocessable {
        details: vec![FieldError {
            field: "robot_ids".into(),
            message: message.into(),
        }],
    }
}

/// `wanted` must name each of `have` exactly once.
fn check_permutation(have: &[Robot], wanted: &[String]) -> Result<()> {
    let ids: HashSet<&str> = have.iter().map(|r| r.id.as_str()).collect();
    let mut seen = HashSet::new();
    for id in wanted {
        if !ids.contains(id.as_str()) {
            return Err(robot_ids_error(format!(
                "'{id}' is not a robot of this stage"
            )));
        }
        if !seen.insert(id.as_str()) {
            return Err(robot_ids_error(format!("'{id}' is listed twice")));
        }
    }
    let missing: Vec<&str> = have
        .iter()
        .map(|r| r.id.as_str())
        .filter(|id| !seen.contains(id))
        .collect();
    if !missing.is_empty() {
        return Err(robot_ids_error(format!(
            "must list every robot of the stage; missing: {}",
            missing.join(", ")
        )));
    }
    Ok(())
}

impl Engine {
    /// Put the robots of `stage_id` in the order of `robot_ids` (exactly
    /// the stage's robots, else 422 naming `robot_ids`) and return them in
    /// that order. A robot that would then use outputs of a robot after it
    /// is a 422 too. Unknown pipeline or stage → 404.
    pub async fn reorder_robots(
        &self,
        tenant: &str,
        pipeline_id: &str,
        stage_id: &str,
        robot_ids: &[String],
    ) -> Result<Vec<Robot>> {
        let (pipeline, _) = self
            .must::<Pipeline>(tenant, "pipeline", pipeline_id)
            .await?;
        if pipeline.stage(stage_id).is_none() {
            return Err(EngineError::not_found("stage", stage_id));
        }
        let docs = self
            .ports
            .store
            .list(tenant, crate::ports::Kind::Robot, pipeline_id)
            .await?;
        let mut all: Vec<Robot> = Vec::with_capacity(docs.len());
        let mut versions: HashMap<String, u64> = HashMap::new();
        for d in &docs {
            let r: Robot = crate::store::decode(d)?;
            versions.insert(r.id.clone(), d.version);
            all.push(r);
        }
        let mut stage: Vec<Robot> = all
            .iter()
            .filter(|r| r.stage_id == stage_id)
            .cloned()
            .collect();
        if stage.len() > MAX_REORDERED {
            return Err(robot_ids_error(format!(
                "a stage with more than {MAX_REORDERED} robots cannot be reordered"
            )));
        }
        check_permutation(&stage, robot_ids)?;
        let mut positions: Vec<u64> = stage.iter().map(|r| r.order).collect();
        positions.sort_unstable();
        let by_id: HashMap<String, Robot> = stage.drain(..).map(|r| (r.id.clone(), r)).collect();
        let reordered: Vec<Robot> = robot_ids
            .iter()
            .zip(positions)
            .map(|(id, order)| Robot {
                order,
                ..by_id[id].clone()
            })
            .collect();
        let after: Vec<Robot> = all
            .iter()
            .filter(|r| r.stage_id != stage_id)
            .cloned()
            .chain(reordered.iter().cloned())
            .collect();
        let mut errors = Vec::new();
        for r in &reordered {
            let (problems, _) = validate_robot(&pipeline, &after, r);
            let (before, _) = validate_robot(&pipeline, &all, &by_id[&r.id]);
            for p in problems.into_iter().filter(|p| !before.contains(p)) {
                errors.push(FieldError {
                    field: "robot_ids".into(),
                    message: format!("robot '{}' ({}): {}: {}", r.name, r.id, p.field, p.message),
                });
            }
        }
        unprocessable(errors)?;
        let writes = reordered
            .iter()
            .filter(|r| by_id[&r.id].order != r.order)
            .map(|r| {
                let v = versions[&r.id];
                put(record_doc(tenant, r, v + 1), Cond::Version(v))
            })
            .collect::<Vec<_>>();
        if !writes.is_empty() {
            self.commit(writes, || {
                format!("robots of pipeline '{pipeline_id}' were changed concurrently; retry")
            })
            .await?;
        }
        Ok(reordered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn robot(id: &str) -> Robot {
        serde_json::from_value(serde_json::json!({
            "id": id, "pipeline_id": "p", "stage_id": "s", "order": 1, "name": id,
            "type": "add_timeline_comment", "settings": {"text": "x"},
            "delay": {"mode": "immediately"}, "respect_working_hours": false,
            "condition": null, "after_previous": false
        }))
        .unwrap()
    }

    #[test]
    fn a_new_order_must_name_each_robot_of_the_stage_once() {
        let have = [robot("a"), robot("b")];
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check_permutation(&have, &ids(&["b", "a"])).is_ok());
        for bad in [&["a"][..], &["a", "b", "c"], &["a", "a"], &["a", "b", "b"]] {
            let err = check_permutation(&have, &ids(bad)).unwrap_err();
            assert!(
                matches!(&err, EngineError::Unprocessable { details } if details[0].field == "robot_ids"),
                "{bad:?}: {err}"
            );
        }
    }
}
