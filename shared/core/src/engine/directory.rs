//! Departments and users (the company directory).

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::api::check_id;
use crate::api::{DepartmentBody, DirectoryBody, UserBody};
use crate::check::Refs;
use crate::error::{EngineError, FieldError, Result};
use crate::model::{Department, User};
use crate::ports::{Cond, DocKey, Kind, MAX_TRANSACTION_WRITES, Write};
use crate::store::{Record, cond_for, decode, put, record_doc};

use super::{Engine, unprocessable};

/// Most records one `PUT /v1/directory` may write: they are written in one
/// store transaction (all or nothing), which holds at most
/// [`MAX_TRANSACTION_WRITES`] writes. A user who moves to another department
/// counts twice (the store also moves its list entry).
pub const MAX_DIRECTORY_WRITES: usize = MAX_TRANSACTION_WRITES;

/// Most departments a parent chain is followed through when looking for a
/// cycle (deeper chains are refused as if they were one).
const MAX_PARENT_CHAIN: usize = 1_000;

/// What `PUT /v1/directory` stored.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Directory {
    pub departments: Vec<Department>,
    pub users: Vec<User>,
}

fn field_error(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// The user record of a `PUT /v1/users/{id}` body, or its problems (fields
/// prefixed with `prefix`), without the references to the store.
fn user_record(id: &str, body: UserBody, prefix: &str) -> (User, Vec<FieldError>) {
    let mut errors = Vec::new();
    let time_zone = body.time_zone.unwrap_or_else(|| "UTC".to_string());
    if time_zone.parse::<chrono_tz::Tz>().is_err() {
        errors.push(field_error(
            format!("{prefix}time_zone"),
            format!("unknown time zone '{time_zone}'"),
        ));
    }
    let working_hours = body.working_hours.unwrap_or_default();
    if let Err(e) = working_hours.validate() {
        errors.push(field_error(format!("{prefix}{}", e.field()), e.to_string()));
    }
    let user = User {
        id: id.to_string(),
        name: body.name,
        email: body.email,
        phone: body.phone,
        department_id: body.department_id,
        time_zone,
        working_hours,
        days_off: body.days_off,
    };
    (user, errors)
}

impl Engine {
    // ---------------------------------------------------------------- directory

    pub async fn put_department(
        &self,
        tenant: &str,
        id: &str,
        body: DepartmentBody,
    ) -> Result<Department> {
        check_id("id", id)?;
        let mut refs = Refs::default();
        if let Some(h) = &body.head_id {
            refs.users.push(("head_id".into(), h.clone()));
        }
        if let Some(p) = &body.parent_id {
            if p == id {
                return Err(EngineError::invalid(
                    "parent_id",
                    "a department cannot be its own parent",
                ));
            }
            refs.departments.push(("parent_id".into(), p.clone()));
        }
        let mut errors = self.check_refs(tenant, &refs).await?;
        if errors.is_empty()
            && let Some(p) = &body.parent_id
            && let Some(cycle) = self
                .parent_cycle(tenant, id, p, &HashMap::new(), &mut HashMap::new())
                .await?
        {
            errors.push(field_error("parent_id", cycle));
        }
        unprocessable(errors)?;
        let dept = Department {
            id: id.to_string(),
            name: body.name,
            head_id: body.head_id,
            parent_id: body.parent_id,
        };
        let version = self
            .load::<Department>(tenant, id)
            .await?
            .map_or(0, |(_, v)| v);
        self.ports
            .store
            .transact(vec![put(
                record_doc(tenant, &dept, version + 1),
                cond_for(version),
            )])
            .await?;
        Ok(dept)
    }

    /// Whether making `parent` the parent of department `id` closes a cycle:
    /// the parent chain is followed through `planned` (departments of the same
    /// request, which win) and the store (`cache` keeps what was read).
    async fn parent_cycle(
        &self,
        tenant: &str,
        id: &str,
        parent: &str,
        planned: &HashMap<&str, Option<&str>>,
        cache: &mut HashMap<String, Option<String>>,
    ) -> Result<Option<String>> {
        let mut chain = vec![id.to_string()];
        let mut cur = Some(parent.to_string());
        while let Some(d) = cur {
            if d == id {
                chain.push(d);
                return Ok(Some(format!("a cycle of parents: {}", chain.join(" → "))));
            }
            if chain.len() > MAX_PARENT_CHAIN {
                return Ok(Some(format!(
                    "the chain of parents is longer than {MAX_PARENT_CHAIN} departments"
                )));
            }
            if chain[1..].contains(&d) {
                // A cycle above `id` that does not pass through it (stored
                // before cycles were refused): not this department's doing.
                return Ok(None);
            }
            chain.push(d.clone());
            cur = if let Some(p) = planned.get(d.as_str()) {
                p.map(str::to_string)
            } else if let Some(p) = cache.get(&d) {
                p.clone()
            } else {
                let p = self
                    .load::<Department>(tenant, &d)
                    .await?
                    .and_then(|(dept, _)| dept.parent_id);
                cache.insert(d.clone(), p.clone());
                p
            };
        }
        Ok(None)
    }

    pub async fn get_department(&self, tenant: &str, id: &str) -> Result<Department> {
        Ok(self.must(tenant, "department", id).await?.0)
    }

    pub async fn put_user(&self, tenant: &str, id: &str, body: UserBody) -> Result<User> {
        check_id("id", id)?;
        body.check_contacts()?;
        let (user, mut errors) = user_record(id, body, "");
        let mut refs = Refs::default();
        if let Some(d) = &user.department_id {
            refs.departments.push(("department_id".into(), d.clone()));
        }
        errors.extend(self.check_refs(tenant, &refs).await?);
        unprocessable(errors)?;
        let old = self.load::<User>(tenant, id).await?;
        let version = old.as_ref().map_or(0, |(_, v)| *v);
        // Users are listed per department (for department recipients); the
        // document's parent never changes, so a move re-creates it.
        let mut writes = Vec::new();
        if let Some((o, v)) = &old
            && o.department_id != user.department_id
        {
            writes.push(Write::Delete {
                key: DocKey::new(tenant, Kind::User, id),
                parent: o.parent().map(String::from),
                cond: Cond::Version(*v),
            });
            self.ports.store.transact(writes).await?;
            writes = vec![put(record_doc(tenant, &user, 1), Cond::Absent)];
        } else {
            writes.push(put(
                record_doc(tenant, &user, version + 1),
                cond_for(version),
            ));
        }
        self.ports.store.transact(writes).await?;
        Ok(user)
    }

    pub async fn get_user(&self, tenant: &str, id: &str) -> Result<User> {
        Ok(self.must(tenant, "user", id).await?.0)
    }

    /// `PUT /v1/directory`: departments and users in any order. References
    /// (heads, parents, users' departments) may name records of the same
    /// request or of the store; parents must not form a cycle. Everything is
    /// checked first (422 listing every problem), then written in ONE
    /// transaction conditional on the versions read: all or nothing (a
    /// concurrent change of one of the records → 409, nothing written).
    /// At most [`MAX_DIRECTORY_WRITES`] records per request (422 naming the
    /// limit).
    pub async fn put_directory(&self, tenant: &str, body: DirectoryBody) -> Result<Directory> {
        body.check()?;
        let mut errors = Vec::new();
        let mut dept_ids: HashSet<&str> = HashSet::new();
        for (i, d) in body.departments.iter().enumerate() {
            if d.id.is_empty() {
                errors.push(field_error(
                    format!("departments[{i}].id"),
                    "must not be empty",
                ));
            } else if !dept_ids.insert(d.id.as_str()) {
                errors.push(field_error(
                    format!("departments[{i}].id"),
                    format!("department '{}' appears twice", d.id),
                ));
            }
        }
        let mut user_ids: HashSet<&str> = HashSet::new();
        for (i, u) in body.users.iter().enumerate() {
            if u.id.is_empty() {
                errors.push(field_error(format!("users[{i}].id"), "must not be empty"));
            } else if !user_ids.insert(u.id.as_str()) {
                errors.push(field_error(
                    format!("users[{i}].id"),
                    format!("user '{}' appears twice", u.id),
                ));
            }
        }
        // The records as stored now (versions, users' departments).
        let keys: Vec<DocKey> = body
            .departments
            .iter()
            .map(|d| DocKey::new(tenant, Kind::Department, d.id.as_str()))
            .chain(
                body.users
                    .iter()
                    .map(|u| DocKey::new(tenant, Kind::User, u.id.as_str())),
            )
            .collect();
        let records = body.departments.len() + body.users.len();
        if records > MAX_DIRECTORY_WRITES {
            return Err(EngineError::invalid(
                "directory",
                format!(
                    "{records} records; at most {MAX_DIRECTORY_WRITES} departments and users per request \
                     (the store's transaction limit, so that the request is written all or nothing); \
                     send a larger directory in parts, each part naming only records that exist or are in it"
                ),
            ));
        }
        let stored = if keys.is_empty() {
            Vec::new()
        } else {
            self.ports.store.get_many(&keys).await?
        };
        let (stored_depts, stored_users) = stored.split_at(body.departments.len());
        // References that are not in the request must be in the store.
        let mut refs = Refs::default();
        for (i, d) in body.departments.iter().enumerate() {
            if let Some(h) = &d.head_id
                && !user_ids.contains(h.as_str())
            {
                refs.users
                    .push((format!("departments[{i}].head_id"), h.clone()));
            }
            if let Some(p) = &d.parent_id {
                if p == &d.id {
                    errors.push(field_error(
                        format!("departments[{i}].parent_id"),
                        "a department cannot be its own parent",
                    ));
                } else if !dept_ids.contains(p.as_str()) {
                    refs.departments
                        .push((format!("departments[{i}].parent_id"), p.clone()));
                }
            }
        }
        let mut users = Vec::with_capacity(body.users.len());
        for (i, u) in body.users.iter().enumerate() {
            let (user, errs) = user_record(&u.id, u.body(), &format!("users[{i}]."));
            errors.extend(errs);
            if let Some(d) = &user.department_id
                && !dept_ids.contains(d.as_str())
            {
                refs.departments
                    .push((format!("users[{i}].department_id"), d.clone()));
            }
            users.push(user);
        }
        errors.extend(self.check_refs(tenant, &refs).await?);
        // Cycles, with the request's parents winning over the stored ones.
        let planned: HashMap<&str, Option<&str>> = body
            .departments
            .iter()
            .map(|d| (d.id.as_str(), d.parent_id.as_deref()))
            .collect();
        let mut cache = HashMap::new();
        for (i, d) in body.departments.iter().enumerate() {
            if let Some(p) = &d.parent_id
                && p != &d.id
                && let Some(cycle) = self
                    .parent_cycle(tenant, &d.id, p, &planned, &mut cache)
                    .await?
            {
                errors.push(field_error(format!("departments[{i}].parent_id"), cycle));
            }
        }
        // A user who changes department moves its list entry too.
        let mut weight = records;
        let mut writes = Vec::with_capacity(records);
        let mut departments = Vec::with_capacity(body.departments.len());
        for (d, old) in body.departments.iter().zip(stored_depts) {
            let dept = Department {
                id: d.id.clone(),
                name: d.name.clone(),
                head_id: d.head_id.clone(),
                parent_id: d.parent_id.clone(),
            };
            let v = old.as_ref().map_or(0, |o| o.version);
            writes.push(put(record_doc(tenant, &dept, v + 1), cond_for(v)));
            departments.push(dept);
        }
        for (user, old) in users.iter().zip(stored_users) {
            let v = old.as_ref().map_or(0, |o| o.version);
            if let Some(o) = old
                && let Ok(o) = decode::<User>(o)
                && o.department_id != user.department_id
            {
                weight += 1;
            }
            writes.push(put(record_doc(tenant, user, v + 1), cond_for(v)));
        }
        if weight > MAX_DIRECTORY_WRITES {
            errors.push(field_error(
                "users",
                format!(
                    "{records} records of which {} users change department (each counts twice); \
                     at most {MAX_DIRECTORY_WRITES} per request (the store's transaction limit)",
                    weight - records
                ),
            ));
        }
        unprocessable(errors)?;
        if !writes.is_empty() {
            self.commit(writes, || {
                "a record of the directory changed meanwhile; nothing was written".to_string()
            })
            .await?;
        }
        Ok(Directory { departments, users })
    }
}
