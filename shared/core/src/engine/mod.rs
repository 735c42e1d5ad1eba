//! The engine: every operation of the product, over the ports.
//!
//! - API operations live in this folder, a file per area: `directory`,
//!   `pipelines`, `automation` (robots and triggers), `items`, `events`,
//!   `work_records` (tasks, activities, chats, messages, …).
//! - [`Engine::process_outbox`] (the stage-change step), [`Engine::handle_event`]
//!   (trigger evaluation) and [`Engine::run_job`] (the robot runner) live in
//!   `crate::flows`.
//!
//! Every change of an item is one conditional transaction that also writes its
//! timeline entries and a transactional-outbox record, so that the follow-up
//! work (ending the old visit, planning the new one, evaluating change
//! triggers) cannot be lost even if the writer dies right after the write.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use crate::check::Refs;
use crate::error::{EngineError, FieldError, Result};
use crate::model::{Department, Item, Pipeline, User};
use crate::ports::{DocKey, Kind, Ports, StoreError, Write};
use crate::store::{Record, decode};
use crate::workhours::WorkCalendar;

mod audiences;
mod automation;
mod automation_limits;
pub use automation::Automation;
pub use automation_limits::{MAX_PER_PIPELINE, MAX_PER_STAGE};
mod deleted_robot_runs;
pub use deleted_robot_runs::CANCEL_PAGE;
pub(crate) use deleted_robot_runs::ROBOT_DELETED;
mod directory;
mod documents;
pub use directory::{Directory, MAX_DIRECTORY_WRITES};
pub use documents::{DocumentPage, MAX_DOCUMENT_PAGE};
mod events;
mod item_list;
pub use item_list::{ItemPage, ItemQuery, MAX_ITEM_PAGE};
pub(crate) mod items;
mod lists;
pub mod paging;
pub use paging::{DEFAULT_PAGE, MAX_PAGE, Page, PageRequest};
mod pipelines;
mod robot_order;
mod run_control;
mod run_log;
pub use run_control::{MAX_SUMMARY_IDS, RunCounts, Stopped};
mod user_work;
mod visit_runs;
mod work_records;

/// Tunables of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Automatic stage moves one causal chain may make before it is stopped.
    pub max_hops: u32,
    /// Items that robots (`copy_item`) may create in one causal chain before
    /// further copies are `loop_stopped`: the hop limit bounds a chain's
    /// depth, this its breadth. Counted in a per-chain counter written in the
    /// same transaction as each copy.
    pub max_items_per_chain: u64,
    /// How long a runner's claim on a run lasts before another may take over.
    pub claim_ttl: chrono::Duration,
    /// How many times an operation is retried after losing an optimistic race.
    pub max_retries: u32,
    /// Claim a run (a conditional write with an expiring claim) before
    /// performing it, so that concurrent runners (Lambda) do not compute the
    /// same run twice. The effect is once either way: the commit is guarded by
    /// the run record's version. The local worker and AWS turn it off and
    /// save one transaction per run (a duplicate delivery then computes the
    /// action twice and commits once).
    pub claim_runs: bool,
    /// List pending outbox records under one parent, for a process that polls
    /// them (the local server). Off on AWS, where the table's stream delivers
    /// them and one shared list key would cap the write rate.
    pub list_outbox: bool,
    /// How long an event's record (`GET /v1/events/{id}`) is kept after the
    /// event was processed (then the store may delete it: DynamoDB's TTL,
    /// the local server's hourly purge). Duplicate deliveries of an event
    /// are recognised by each item's run log, not by this record.
    pub event_retention: chrono::Duration,
    /// How long finished run records and sent (or failed) outbound messages
    /// are kept ([`crate::retention`]; default 365 days each).
    pub retention: crate::retention::Retention,
    /// Pending runs of a deleted robot cancelled per step: in the DELETE
    /// request, then per outbox record (default [`CANCEL_PAGE`]).
    pub cancel_page: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_hops: 10,
            max_items_per_chain: 100,
            claim_ttl: chrono::Duration::minutes(5),
            max_retries: 8,
            claim_runs: true,
            list_outbox: true,
            event_retention: chrono::Duration::days(90),
            retention: crate::retention::Retention::default(),
            cancel_page: CANCEL_PAGE,
        }
    }
}

/// The robots-and-triggers engine.
#[derive(Clone)]
pub struct Engine {
    pub(crate) ports: Ports,
    pub(crate) config: EngineConfig,
    /// Where audience changes go (default: kept in the store).
    pub(crate) audiences: std::sync::Arc<dyn crate::audiences::Audiences>,
    /// Email tracking: the public URL and the tenants' keys read so far.
    pub(crate) tracking: std::sync::Arc<crate::tracking::key::TrackingState>,
    /// Incoming email: the inbound domain and the addresses read so far.
    pub(crate) inbound: std::sync::Arc<crate::inbound::address::InboundState>,
}

/// Parent under which pending outbox records are listed.
pub const OUTBOX_PENDING: &str = "pending";

pub(crate) fn unprocessable(errors: Vec<FieldError>) -> Result<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(EngineError::Unprocessable { details: errors })
    }
}

impl Engine {
    /// The engine over `ports`; its store counts the reports' aggregates
    /// in every transaction that makes a robot run final
    /// ([`crate::reports::TallyStore`]), and stamps the expiry of finished
    /// runs and messages ([`crate::retention::RetentionStamp`]).
    pub fn new(mut ports: Ports, config: EngineConfig) -> Self {
        let audiences =
            std::sync::Arc::new(crate::audiences::StoreAudiences::new(ports.store.clone()));
        let tally = std::sync::Arc::new(crate::reports::tally_store(ports.store));
        let stamp = crate::retention::RetentionStamp::new(config.retention, ports.clock.clone());
        ports.store = std::sync::Arc::new(crate::hooked_store::HookedStore::new(tally, stamp));
        Engine {
            ports,
            config,
            audiences,
            tracking: Default::default(),
            inbound: Default::default(),
        }
    }

    /// The engine with another adapter of the audiences port (an ad
    /// network's API) instead of the store.
    pub fn with_audiences(
        mut self,
        audiences: std::sync::Arc<dyn crate::audiences::Audiences>,
    ) -> Self {
        self.audiences = audiences;
        self
    }

    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Commit `writes`; a lost optimistic race (a failed condition) becomes
    /// a 409 with the message `what` gives.
    pub(crate) async fn commit(
        &self,
        writes: Vec<Write>,
        what: impl FnOnce() -> String,
    ) -> Result<()> {
        self.ports
            .store
            .transact(writes)
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } => EngineError::Conflict(what()),
                e => e.into(),
            })
    }

    /// The engine's time (its injected clock), for answers that show it.
    pub fn now(&self) -> DateTime<Utc> {
        self.ports.clock.now()
    }

    /// A record and its version.
    pub(crate) async fn load<T: Record>(&self, tenant: &str, id: &str) -> Result<Option<(T, u64)>> {
        self.load_kind(tenant, T::KIND, id).await
    }

    /// A document of `kind` read as `T` (counters and other plain values).
    pub(crate) async fn load_kind<T: DeserializeOwned>(
        &self,
        tenant: &str,
        kind: Kind,
        id: &str,
    ) -> Result<Option<(T, u64)>> {
        match self.ports.store.get(&DocKey::new(tenant, kind, id)).await? {
            None => Ok(None),
            Some(d) => Ok(Some((decode(&d)?, d.version))),
        }
    }

    /// A record that must exist (404 naming `what` otherwise).
    pub(crate) async fn must<T: Record>(
        &self,
        tenant: &str,
        what: &'static str,
        id: &str,
    ) -> Result<(T, u64)> {
        self.load(tenant, id)
            .await?
            .ok_or_else(|| EngineError::not_found(what, id))
    }

    /// The records listed under `parent`.
    pub(crate) async fn list<T: Record>(&self, tenant: &str, parent: &str) -> Result<Vec<T>> {
        self.ports
            .store
            .list(tenant, T::KIND, parent)
            .await?
            .iter()
            .map(decode)
            .collect()
    }

    pub(crate) async fn load_item(&self, tenant: &str, id: &str) -> Result<Option<Item>> {
        Ok(self.load::<Item>(tenant, id).await?.map(|(mut item, v)| {
            item.version = v;
            item
        }))
    }

    pub(crate) async fn user(&self, tenant: &str, id: &str) -> Result<Option<User>> {
        Ok(self.load(tenant, id).await?.map(|(u, _)| u))
    }

    /// The working calendar of a user (None if the user is unknown or has a bad zone).
    pub(crate) fn calendar(user: &User) -> Option<WorkCalendar> {
        let tz: chrono_tz::Tz = user.time_zone.parse().ok()?;
        Some(WorkCalendar::new(
            tz,
            user.working_hours.clone(),
            user.days_off.iter().copied(),
        ))
    }

    /// The calendar a robot's delay is counted in: its responsible's when
    /// the robot needs one (working hours, the responsible's zone), else
    /// none; with the zone (UTC without a calendar).
    pub(crate) async fn robot_calendar(
        &self,
        tenant: &str,
        robot: &crate::robots::Robot,
        item: &Item,
    ) -> Result<(Option<WorkCalendar>, chrono_tz::Tz)> {
        let cal = if crate::planning::needs_responsible(robot) {
            self.user(tenant, &item.responsible_id)
                .await?
                .as_ref()
                .and_then(Engine::calendar)
        } else {
            None
        };
        let tz = cal.as_ref().map_or(chrono_tz::UTC, |c| c.tz);
        Ok((cal, tz))
    }

    /// The head of a user's department; if the user heads it, the head of the
    /// parent department, and so on up the tree.
    pub(crate) async fn supervisor_of(&self, tenant: &str, user: &User) -> Result<Option<String>> {
        let mut dept_id = user.department_id.clone();
        let mut seen = HashSet::new();
        while let Some(d) = dept_id {
            if !seen.insert(d.clone()) {
                break;
            }
            let Some((dept, _)) = self.load::<Department>(tenant, &d).await? else {
                break;
            };
            match &dept.head_id {
                Some(h) if h != &user.id => return Ok(Some(h.clone())),
                _ => dept_id = dept.parent_id.clone(),
            }
        }
        Ok(None)
    }

    /// Check that referenced users, departments and pipelines exist.
    pub(crate) async fn check_refs(&self, tenant: &str, refs: &Refs) -> Result<Vec<FieldError>> {
        let mut errors = Vec::new();
        let user_keys: Vec<DocKey> = refs
            .users
            .iter()
            .map(|(_, id)| DocKey::new(tenant, Kind::User, id.as_str()))
            .collect();
        let dept_keys: Vec<DocKey> = refs
            .departments
            .iter()
            .map(|(_, id)| DocKey::new(tenant, Kind::Department, id.as_str()))
            .collect();
        let mut keys = user_keys;
        keys.extend(dept_keys);
        let found = if keys.is_empty() {
            Vec::new()
        } else {
            self.ports.store.get_many(&keys).await?
        };
        let (users, depts) = found.split_at(refs.users.len());
        for ((field, id), f) in refs.users.iter().zip(users) {
            if f.is_none() {
                errors.push(FieldError {
                    field: field.clone(),
                    message: format!("unknown user '{id}'"),
                });
            }
        }
        for ((field, id), f) in refs.departments.iter().zip(depts) {
            if f.is_none() {
                errors.push(FieldError {
                    field: field.clone(),
                    message: format!("unknown department '{id}'"),
                });
            }
        }
        if !refs.records.is_empty() {
            let keys: Vec<DocKey> = refs
                .records
                .iter()
                .map(|(_, kind, id)| DocKey::new(tenant, *kind, id.as_str()))
                .collect();
            let found = self.ports.store.get_many(&keys).await?;
            for ((field, kind, id), f) in refs.records.iter().zip(found) {
                if f.is_none() {
                    errors.push(FieldError {
                        field: field.clone(),
                        message: format!("unknown {} '{id}'", kind.as_str().replace('_', " ")),
                    });
                }
            }
        }
        for (field, pid, stages) in &refs.pipelines {
            match self.load::<Pipeline>(tenant, pid).await? {
                None => errors.push(FieldError {
                    field: "settings.pipeline_id".into(),
                    message: format!("unknown pipeline '{pid}'"),
                }),
                Some((p, _)) => {
                    for s in stages {
                        if p.stage(s).is_none() {
                            errors.push(FieldError {
                                field: field.clone(),
                                message: format!("unknown stage '{s}' in pipeline '{pid}'"),
                            });
                        }
                    }
                }
            }
        }
        Ok(errors)
    }
}
