//! Save-time validation of robots and triggers: unknown stages, fields,
//! placeholders and robot outputs are rejected with a typed error naming the
//! setting. References to users/departments/other pipelines are collected in
//! [`Refs`] for the engine to check against the store.
//!
//! User settings accept a user id or one of the special values
//! [`RESPONSIBLE`] (the item's responsible) and [`SUPERVISOR`] (the
//! supervisor of the item's responsible).

use serde_json::Value;

use crate::automation::{Action, Robot, Trigger, TriggerKind};
use crate::context::{TASK_PATHS, is_item_path, is_robot_path, is_writable_path};
use crate::error::FieldError;
use crate::model::{FieldType, Pipeline};
use crate::template::Template;

/// Special user value: the item's responsible.
pub const RESPONSIBLE: &str = "responsible";
/// Special user value: the supervisor of the item's responsible.
pub const SUPERVISOR: &str = "supervisor";

/// Things a configuration refers to that live elsewhere in the store.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Refs {
    /// (setting path, user id)
    pub users: Vec<(String, String)>,
    /// (setting path, department id)
    pub departments: Vec<(String, String)>,
    /// (setting path, pipeline id, stage ids that must exist in it)
    pub pipelines: Vec<(String, String, Vec<String>)>,
}

impl Refs {
    fn user(&mut self, path: impl Into<String>, id: &str) {
        if id != RESPONSIBLE && id != SUPERVISOR {
            self.users.push((path.into(), id.to_string()));
        }
    }
    fn users(&mut self, path: &str, ids: &[String]) {
        for (i, id) in ids.iter().enumerate() {
            self.user(format!("{path}[{i}]"), id);
        }
    }
    fn departments(&mut self, path: &str, ids: &[String]) {
        for (i, id) in ids.iter().enumerate() {
            self.departments.push((format!("{path}[{i}]"), id.clone()));
        }
    }
}

fn err(errors: &mut Vec<FieldError>, field: impl Into<String>, message: impl Into<String>) {
    errors.push(FieldError {
        field: field.into(),
        message: message.into(),
    });
}

fn stage_exists(errors: &mut Vec<FieldError>, pipeline: &Pipeline, field: &str, stage: &str) {
    if pipeline.stage(stage).is_none() {
        err(
            errors,
            field,
            format!("unknown stage '{stage}' in pipeline '{}'", pipeline.id),
        );
    }
}

fn is_date_field(pipeline: &Pipeline, path: &str) -> bool {
    matches!(path, "created_at" | "updated_at")
        || path.strip_prefix("fields.").is_some_and(|k| {
            pipeline
                .field(k)
                .is_some_and(|f| matches!(f.field_type, FieldType::Date | FieldType::Datetime))
        })
}

/// Validate a robot (its id/order already assigned) against its pipeline and
/// the pipeline's other robots. Returns the problems and the references to check.
pub fn validate_robot(
    pipeline: &Pipeline,
    robots: &[Robot],
    robot: &Robot,
) -> (Vec<FieldError>, Refs) {
    let mut errors = Vec::new();
    let mut refs = Refs::default();
    stage_exists(&mut errors, pipeline, "stage_id", &robot.stage_id);
    if let Err(e) = robot.delay.validate() {
        err(&mut errors, e.field(), e.to_string());
    }
    if let Some(field) = robot.delay.field()
        && !is_date_field(pipeline, field)
    {
        err(
            &mut errors,
            "delay.field",
            format!(
                "'{field}' is not a date field of pipeline '{}'",
                pipeline.id
            ),
        );
    }
    let known = |p: &str| is_robot_path(pipeline, robots, robot, p);
    if let Some(c) = &robot.condition
        && let Err(e) = c.validate(&known)
    {
        err(
            &mut errors,
            format!("condition.{}", e.path()),
            e.to_string(),
        );
    }
    for (key, t) in robot.action.templates() {
        check_template(&mut errors, &format!("settings.{key}"), t, &known);
    }
    action_refs(&mut errors, &mut refs, pipeline, &robot.action, &known);
    (errors, refs)
}

fn check_template(
    errors: &mut Vec<FieldError>,
    field: &str,
    t: &Template,
    known: &dyn Fn(&str) -> bool,
) {
    for p in t.placeholders() {
        if !known(p) {
            err(errors, field, format!("unknown placeholder {{{{{p}}}}}"));
        }
    }
}

fn action_refs(
    errors: &mut Vec<FieldError>,
    refs: &mut Refs,
    pipeline: &Pipeline,
    action: &Action,
    known: &dyn Fn(&str) -> bool,
) {
    match action {
        Action::NotifySupervisor(s) => refs.users("settings.recipients", &s.recipients),
        Action::AddHistoryRecord(s) => {
            if let Some(a) = &s.author_id {
                refs.user("settings.author_id", a);
            }
        }
        Action::CreateTask(s) => {
            if let Some(r) = &s.responsible_id {
                refs.user("settings.responsible_id", r);
            }
            refs.users("settings.accomplice_ids", &s.accomplice_ids);
            refs.users("settings.auditor_ids", &s.auditor_ids);
            if let Some(d) = &s.deadline
                && d.amount == 0
            {
                err(errors, "settings.deadline.amount", "must be at least 1");
            }
        }
        Action::CompleteTask(s) => {
            if s.stage_ids.is_empty() {
                err(errors, "settings.stage_ids", "name at least one stage");
            }
            match &s.pipeline_id {
                Some(p) if p != &pipeline.id => refs.pipelines.push((
                    "settings.stage_ids".into(),
                    p.clone(),
                    s.stage_ids.clone(),
                )),
                _ => {
                    for (i, st) in s.stage_ids.iter().enumerate() {
                        stage_exists(errors, pipeline, &format!("settings.stage_ids[{i}]"), st);
                    }
                }
            }
        }
        Action::PlanActivity(s) => {
            if let Some(r) = &s.responsible_id {
                refs.user("settings.responsible_id", r);
            }
            refs.users("settings.invited_user_ids", &s.invited_user_ids);
        }
        Action::NotifyEmployee(s) => {
            if let Some(x) = &s.sender_id {
                refs.user("settings.sender_id", x);
            }
            refs.users("settings.recipient_ids", &s.recipient_ids);
            refs.departments("settings.department_ids", &s.department_ids);
            if s.recipient_ids.is_empty() && s.department_ids.is_empty() {
                err(
                    errors,
                    "settings.recipient_ids",
                    "name at least one recipient or department",
                );
            }
        }
        Action::AddTimelineComment(s) => {
            if let Some(a) = &s.author_id {
                refs.user("settings.author_id", a);
            }
        }
        Action::AddFeedPost(s) => {
            if let Some(x) = &s.sender_id {
                refs.user("settings.sender_id", x);
            }
            refs.users("settings.recipient_ids", &s.recipient_ids);
            refs.departments("settings.department_ids", &s.department_ids);
            if !s.everyone && s.recipient_ids.is_empty() && s.department_ids.is_empty() {
                err(
                    errors,
                    "settings.recipient_ids",
                    "name recipients, departments or set everyone",
                );
            }
        }
        Action::CreateGroupChat(s) => {
            refs.users("settings.member_ids", &s.member_ids);
            refs.departments("settings.department_ids", &s.department_ids);
            if s.department_ids.is_empty() && s.member_ids.len() < 2 {
                err(
                    errors,
                    "settings.member_ids",
                    "a group chat needs at least two members",
                );
            }
        }
        Action::AddChatMembers(s) => {
            refs.users("settings.user_ids", &s.user_ids);
            if s.user_ids.is_empty() {
                err(errors, "settings.user_ids", "name at least one user");
            }
            if s.chat_id.source().trim().is_empty() {
                err(errors, "settings.chat_id", "must not be empty");
            }
        }
        Action::SendChatMessage(s) => {
            if let Some(x) = &s.sender_id {
                refs.user("settings.sender_id", x);
            }
            if s.chat_id.source().trim().is_empty() {
                err(errors, "settings.chat_id", "must not be empty");
            }
        }
        Action::SendDirectMessage(s) => {
            if let Some(x) = &s.sender_id {
                refs.user("settings.sender_id", x);
            }
            refs.user("settings.recipient_id", &s.recipient_id);
        }
        Action::EmailEmployee(s) => {
            if let Some(x) = &s.to_user_id {
                refs.user("settings.to_user_id", x);
            }
        }
        Action::SmsEmployee(s) => {
            if let Some(x) = &s.user_id {
                refs.user("settings.user_id", x);
            }
        }
        Action::ModifyItem(s) => {
            if s.fields.is_empty() {
                err(errors, "settings.fields", "name at least one field");
            }
            for (path, value) in &s.fields {
                let field = format!("settings.fields.{path}");
                if !is_writable_path(pipeline, path) {
                    err(
                        errors,
                        &field,
                        format!("unknown or read-only field '{path}'"),
                    );
                    continue;
                }
                match value {
                    Value::String(src) => match Template::parse(src) {
                        Ok(t) => check_template(errors, &field, &t, known),
                        Err(e) => err(errors, &field, e.to_string()),
                    },
                    _ if path == "responsible_id" => err(errors, &field, "must be a user id"),
                    _ => {}
                }
                if path == "responsible_id"
                    && let Value::String(u) = value
                    && !u.contains("{{")
                {
                    refs.user(field.clone(), u);
                }
            }
        }
        Action::ChangeStage(s) => stage_exists(errors, pipeline, "settings.stage_id", &s.stage_id),
        Action::ChangeResponsible(s) => {
            if s.user_ids.is_empty() {
                err(errors, "settings.user_ids", "name at least one user");
            }
            refs.users("settings.user_ids", &s.user_ids);
        }
        Action::CopyItem(s) => {
            if let Some(r) = &s.responsible_id {
                refs.user("settings.responsible_id", r);
            }
            if let Some(st) = &s.stage_id {
                stage_exists(errors, pipeline, "settings.stage_id", st);
            }
        }
        Action::DeleteItem(_) | Action::EmailClient(_) | Action::SmsClient(_) => {}
    }
}

/// Validate a trigger against its pipeline.
pub fn validate_trigger(pipeline: &Pipeline, trigger: &Trigger) -> (Vec<FieldError>, Refs) {
    let mut errors = Vec::new();
    let mut refs = Refs::default();
    stage_exists(&mut errors, pipeline, "stage_id", &trigger.stage_id);
    if let Some(u) = &trigger.execute_as {
        refs.user("execute_as", u);
    }
    let known = |p: &str| is_item_path(pipeline, p);
    if let Some(c) = &trigger.condition
        && let Err(e) = c.validate(&known)
    {
        err(
            &mut errors,
            format!("condition.{}", e.path()),
            e.to_string(),
        );
    }
    match &trigger.kind {
        TriggerKind::FieldChanged(s) => {
            if s.fields.is_empty() {
                err(
                    &mut errors,
                    "settings.fields",
                    "name at least one field to watch",
                );
            }
            for (i, f) in s.fields.iter().enumerate() {
                if !is_writable_path(pipeline, f) {
                    err(
                        &mut errors,
                        format!("settings.fields[{i}]"),
                        format!("unknown field '{f}'"),
                    );
                }
            }
        }
        TriggerKind::TaskStatus(s) => {
            if let Some(f) = &s.task_filter
                && let Err(e) = f.validate(&|p: &str| TASK_PATHS.contains(&p))
            {
                err(
                    &mut errors,
                    format!("settings.task_filter.{}", e.path()),
                    e.to_string(),
                );
            }
        }
        TriggerKind::Webhook(s) if s.code.trim().is_empty() => {
            err(&mut errors, "settings.code", "must not be empty");
        }
        _ => {}
    }
    (errors, refs)
}
