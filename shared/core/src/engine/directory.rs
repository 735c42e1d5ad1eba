//! Departments and users (the company directory).

use crate::api::{DepartmentBody, UserBody};
use crate::check::Refs;
use crate::error::{EngineError, FieldError, Result};
use crate::model::{Department, User};
use crate::ports::{Cond, DocKey, Kind, Write};
use crate::store::{Record, cond_for, put, record_doc};

use super::{Engine, unprocessable};

impl Engine {
    // ---------------------------------------------------------------- directory

    pub async fn put_department(
        &self,
        tenant: &str,
        id: &str,
        body: DepartmentBody,
    ) -> Result<Department> {
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
        unprocessable(self.check_refs(tenant, &refs).await?)?;
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

    pub async fn get_department(&self, tenant: &str, id: &str) -> Result<Department> {
        Ok(self.must(tenant, "department", id).await?.0)
    }

    pub async fn put_user(&self, tenant: &str, id: &str, body: UserBody) -> Result<User> {
        let mut errors = Vec::new();
        let time_zone = body.time_zone.unwrap_or_else(|| "UTC".to_string());
        if time_zone.parse::<chrono_tz::Tz>().is_err() {
            errors.push(FieldError {
                field: "time_zone".into(),
                message: format!("unknown time zone '{time_zone}'"),
            });
        }
        let working_hours = body.working_hours.unwrap_or_default();
        if let Err(e) = working_hours.validate() {
            errors.push(FieldError {
                field: e.field().into(),
                message: e.to_string(),
            });
        }
        let mut refs = Refs::default();
        if let Some(d) = &body.department_id {
            refs.departments.push(("department_id".into(), d.clone()));
        }
        errors.extend(self.check_refs(tenant, &refs).await?);
        unprocessable(errors)?;
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
}
