//! Save-time checks of robots and triggers: unknown stages, fields,
//! placeholders and robot outputs are rejected with a typed error naming the
//! setting. References to users/departments/other pipelines are collected in
//! [`Refs`] for the engine to check against the store.
//!
//! User settings accept a user id or one of the special values
//! [`RESPONSIBLE`] (the item's responsible) and [`SUPERVISOR`] (the
//! supervisor of the item's responsible).

use crate::condition::Condition;
use crate::error::FieldError;
use crate::model::{FieldType, Pipeline};
use crate::template::{MAX_PLACEHOLDERS, MAX_RENDERED_BYTES, Template};

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
    /// (setting path, kind, id) of other records that must exist
    /// (document templates, numbering rules).
    pub records: Vec<(String, crate::ports::Kind, String)>,
}

/// The checks of one robot or trigger being saved: the problems found so far
/// and the references to look up.
pub struct Check<'a> {
    pub pipeline: &'a Pipeline,
    known: &'a dyn Fn(&str) -> bool,
    errors: Vec<FieldError>,
    refs: Refs,
}

impl<'a> Check<'a> {
    /// `known` says which placeholder paths the templates and condition may use.
    pub fn new(pipeline: &'a Pipeline, known: &'a dyn Fn(&str) -> bool) -> Self {
        Check {
            pipeline,
            known,
            errors: Vec::new(),
            refs: Refs::default(),
        }
    }

    /// The problems and the references to check against the store.
    pub fn finish(self) -> (Vec<FieldError>, Refs) {
        (self.errors, self.refs)
    }

    /// A problem with `field`.
    pub fn err(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// `cond` true, or a problem with `field`.
    pub fn require(&mut self, cond: bool, field: &str, message: &str) {
        if !cond {
            self.err(field, message);
        }
    }

    /// A user setting (an id, or `responsible` / `supervisor`).
    pub fn user(&mut self, path: impl Into<String>, id: &str) {
        if id != RESPONSIBLE && id != SUPERVISOR {
            self.refs.users.push((path.into(), id.to_string()));
        }
    }

    /// An optional user setting.
    pub fn opt_user(&mut self, path: &str, id: Option<&String>) {
        if let Some(id) = id {
            self.user(path, id);
        }
    }

    /// A list of user settings.
    pub fn users(&mut self, path: &str, ids: &[String]) {
        for (i, id) in ids.iter().enumerate() {
            self.user(format!("{path}[{i}]"), id);
        }
    }

    /// A list of department ids.
    pub fn departments(&mut self, path: &str, ids: &[String]) {
        for (i, id) in ids.iter().enumerate() {
            self.refs
                .departments
                .push((format!("{path}[{i}]"), id.clone()));
        }
    }

    /// A record of `kind` a setting names (checked against the store).
    pub fn record(&mut self, path: &str, kind: crate::ports::Kind, id: &str) {
        self.refs.records.push((path.into(), kind, id.to_string()));
    }

    /// Stages of another pipeline (checked against the store).
    pub fn other_pipeline(&mut self, path: &str, pipeline_id: &str, stage_ids: &[String]) {
        self.refs
            .pipelines
            .push((path.into(), pipeline_id.into(), stage_ids.to_vec()));
    }

    /// A stage of this pipeline.
    pub fn stage(&mut self, field: &str, stage: &str) {
        if self.pipeline.stage(stage).is_none() {
            let message = format!("unknown stage '{stage}' in pipeline '{}'", self.pipeline.id);
            self.err(field, message);
        }
    }

    /// Is `path` a known placeholder path here?
    pub fn known(&self, path: &str) -> bool {
        (self.known)(path)
    }

    /// Every placeholder of a template is known; at most
    /// [`MAX_PLACEHOLDERS`] of them, and no more literal text than a
    /// rendered text may hold ([`MAX_RENDERED_BYTES`]).
    pub fn template(&mut self, field: &str, t: &Template) {
        if t.placeholder_count() > MAX_PLACEHOLDERS {
            self.err(
                field,
                format!(
                    "{} placeholders; at most {MAX_PLACEHOLDERS} per template",
                    t.placeholder_count()
                ),
            );
            return;
        }
        if t.source().len() > MAX_RENDERED_BYTES {
            self.err(
                field,
                format!(
                    "the template is {} bytes; at most {MAX_RENDERED_BYTES} (64 KiB)",
                    t.source().len()
                ),
            );
        }
        for p in t.placeholders() {
            if !(self.known)(p) {
                self.err(field, format!("unknown placeholder {{{{{p}}}}}"));
            }
        }
    }

    /// A condition over the known paths.
    pub fn condition(&mut self, field: &str, c: Option<&Condition>) {
        let known = self.known;
        self.condition_over(field, c, known);
    }

    /// A condition over other paths (a task's, say).
    pub fn condition_over(
        &mut self,
        field: &str,
        c: Option<&Condition>,
        known: &dyn Fn(&str) -> bool,
    ) {
        if let Some(c) = c
            && let Err(e) = c.validate(known)
        {
            self.err(format!("{field}.{}", e.path()), e.to_string());
        }
    }

    /// Is `path` a date field of the pipeline (for delays relative to a field)?
    pub fn is_date_field(&self, path: &str) -> bool {
        matches!(path, "created_at" | "updated_at")
            || path.strip_prefix("fields.").is_some_and(|k| {
                self.pipeline
                    .field(k)
                    .is_some_and(|f| matches!(f.field_type, FieldType::Date | FieldType::Datetime))
            })
    }
}
