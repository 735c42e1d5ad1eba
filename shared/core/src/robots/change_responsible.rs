//! `change_responsible`: makes another user responsible for the item (the
//! first of the users named, or each in turn).

use super::prelude::*;

/// How `change_responsible` picks among several users.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RotateMode {
    #[default]
    First,
    Rotate,
}

/// `change_responsible`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeResponsible {
    pub user_ids: Vec<String>,
    #[serde(default)]
    pub mode: RotateMode,
}

impl RobotType for ChangeResponsible {
    const GROUP: Group = Group::ItemManagement;
    const DESCRIPTION: &'static str = "Change the item's responsible (the first user, or in turn)";

    fn check(&self, cx: &mut Check<'_>) {
        cx.require(
            !self.user_ids.is_empty(),
            "settings.user_ids",
            "name at least one user",
        );
        cx.users("settings.user_ids", &self.user_ids);
    }

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        let (tenant, item) = (cx.tenant, cx.item);
        let mut writes = Vec::new();
        let pick = match self.mode {
            RotateMode::First => self.user_ids[0].clone(),
            RotateMode::Rotate => {
                let id = format!("rotate:{}", cx.robot.id);
                let cur = cx.engine.load_kind::<u64>(tenant, Kind::Counter, &id).await?;
                let (n, v) = cur.unwrap_or((0, 0));
                writes.push(put(
                    doc(tenant, Kind::Counter, &id, v + 1, None, &(n + 1)),
                    crate::store::cond_for(v),
                ));
                self.user_ids[(n as usize) % self.user_ids.len()].clone()
            }
        };
        let pick = cx.resolve_user(&pick).await?;
        if pick == item.responsible_id {
            return Ok(Effect::done(writes).note(format!("'{pick}' is responsible already")));
        }
        if cx.engine.user(tenant, &pick).await?.is_none() {
            return fail(format!("user '{pick}' not found"));
        }
        let mut changed = item.clone();
        changed.responsible_id = pick.clone();
        let tl = vec![cx.timeline_entry(
            "responsible_changed",
            None,
            format!("Responsible changed from {} to {pick}", item.responsible_id),
            Value::Null,
        )];
        Ok(cx
            .item_effect(changed, None, vec!["responsible_id".into()], tl)
            .with(writes)
            .note(format!("responsible is now '{pick}'")))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::robots::check_tests::{check, users};

    #[test]
    fn someone_must_be_named_and_is_looked_up() {
        let (errors, _) = check("change_responsible", json!({"user_ids": []}));
        assert_eq!(errors, ["settings.user_ids"]);
        let (_, refs) = check(
            "change_responsible",
            json!({"user_ids": ["u-anna", "u-dan"], "mode": "rotate"}),
        );
        assert_eq!(users(&refs), ["u-anna", "u-dan"]);
    }
}
