//! What every robot file uses.

pub(crate) use serde::{Deserialize, Serialize};
pub(crate) use serde_json::Value;

pub(crate) use super::{ActionResult, Effect, RobotType, RunContext, fail};
pub(crate) use crate::catalogue::Group;
pub(crate) use crate::check::{Check, SUPERVISOR};
pub(crate) use crate::ports::{Cond, Kind};
pub(crate) use crate::store::{doc, put, record_doc};
pub(crate) use crate::template::Template;

/// `#[serde(default = "yes")]`
pub(crate) fn yes() -> bool {
    true
}

/// `#[serde(default = "empty_template")]`
pub(crate) fn empty_template() -> Template {
    Template::default()
}
