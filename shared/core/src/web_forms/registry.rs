//! Forms through the API: make, read, page, replace, delete; and the public
//! lookup of a form by its id alone.

use super::form::{DEFAULT_SUCCESS, FormBody, WebForm};
use crate::engine::{Engine, Page, PageRequest};
use crate::error::{EngineError, FieldError, Result};
use crate::model::Pipeline;
use crate::ports::{Cond, Kind, StoreError};
use crate::public_id;
use crate::store::{decode, doc, put};

/// A fresh public id: `wf_` + 128 random bits in hex.
fn generate_id() -> String {
    public_id::generate("wf")
}

/// Whether `id` has the shape of a form id (anything else is not looked up).
pub fn is_form_id(id: &str) -> bool {
    public_id::has_shape(id, "wf")
}

impl Engine {
    /// The pipeline of a form body and the stage/entity type it resolves to,
    /// or every problem (422).
    async fn resolve_form(&self, tenant: &str, body: &FormBody) -> Result<(String, String)> {
        let pipeline = self.load::<Pipeline>(tenant, &body.pipeline_id).await?;
        let pipeline = pipeline.map(|(p, _)| p);
        let mut errors = body.problems(pipeline.as_ref());
        let Some(pipeline) = pipeline else {
            errors.push(FieldError {
                field: "pipeline_id".into(),
                message: format!("unknown pipeline '{}'", body.pipeline_id),
            });
            crate::engine::unprocessable(errors)?;
            unreachable!("errors is not empty");
        };
        let (stage_id, placed) = crate::engine::items::placement(
            &pipeline,
            body.entity_type.as_deref(),
            body.stage_id.as_deref(),
        );
        errors.extend(placed);
        let refs = crate::check::Refs {
            users: vec![("responsible_id".into(), body.responsible_id.clone())],
            ..Default::default()
        };
        errors.extend(self.check_refs(tenant, &refs).await?);
        crate::engine::unprocessable(errors)?;
        Ok((stage_id, pipeline.entity_type))
    }

    fn form_from(
        &self,
        id: String,
        body: FormBody,
        stage_id: String,
        entity_type: String,
        created_at: chrono::DateTime<chrono::Utc>,
    ) -> WebForm {
        WebForm {
            id,
            name: body.name.trim().to_string(),
            fields: body.fields,
            pipeline_id: body.pipeline_id,
            stage_id,
            entity_type,
            responsible_id: body.responsible_id,
            success_message: body
                .success_message
                .filter(|m| !m.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_SUCCESS.to_string()),
            created_at,
            updated_at: self.now(),
        }
    }

    /// Make a form (422 naming every bad field).
    pub async fn create_form(&self, tenant: &str, body: FormBody) -> Result<WebForm> {
        let (stage_id, entity_type) = self.resolve_form(tenant, &body).await?;
        let form = self.form_from(generate_id(), body, stage_id, entity_type, self.now());
        self.ports
            .store
            .transact(public_id::create(tenant, Kind::WebForm, &form.id, &form))
            .await?;
        Ok(form)
    }

    /// A form of the tenant (another tenant's or an unknown id → 404).
    pub async fn get_form(&self, tenant: &str, id: &str) -> Result<WebForm> {
        Ok(self.form_and_version(tenant, id).await?.0)
    }

    async fn form_and_version(&self, tenant: &str, id: &str) -> Result<(WebForm, u64)> {
        self.load_kind::<WebForm>(tenant, Kind::WebForm, id)
            .await?
            .ok_or_else(|| EngineError::not_found("form", id))
    }

    /// One page of the tenant's forms, in id order.
    pub async fn forms_page(&self, tenant: &str, req: &PageRequest) -> Result<Page<WebForm>> {
        let page = self
            .page_docs(
                tenant,
                Kind::WebForm,
                &[public_id::LISTED.to_string()],
                req,
                |_| Ok(true),
            )
            .await?;
        let items = page.items.iter().map(decode).collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    /// Replace a form's definition; its id (and so its public URL) stays.
    pub async fn replace_form(&self, tenant: &str, id: &str, body: FormBody) -> Result<WebForm> {
        let (old, version) = self.form_and_version(tenant, id).await?;
        let (stage_id, entity_type) = self.resolve_form(tenant, &body).await?;
        let form = self.form_from(old.id, body, stage_id, entity_type, old.created_at);
        match self
            .ports
            .store
            .transact(vec![put(
                doc(
                    tenant,
                    Kind::WebForm,
                    id,
                    version + 1,
                    Some(public_id::LISTED),
                    &form,
                ),
                Cond::Version(version),
            )])
            .await
        {
            Ok(()) => Ok(form),
            Err(StoreError::Conflict { .. }) => Err(EngineError::Conflict(format!(
                "form '{id}' changed concurrently; retry"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Delete a form: its page and its posts answer 404 from now on.
    pub async fn delete_form(&self, tenant: &str, id: &str) -> Result<()> {
        self.form_and_version(tenant, id).await?;
        self.ports
            .store
            .transact(public_id::delete(tenant, Kind::WebForm, id))
            .await?;
        Ok(())
    }

    /// The tenant and definition of a public form id; `None` for an unknown
    /// or deleted form, or a string that is no form id (two point reads).
    pub async fn public_form(&self, id: &str) -> Result<Option<(String, WebForm)>> {
        if !is_form_id(id) {
            return Ok(None);
        }
        let Some(tenant) = self.public_id_owner(Kind::WebForm, id).await? else {
            return Ok(None);
        };
        let form = self
            .load_kind::<WebForm>(&tenant, Kind::WebForm, id)
            .await?;
        Ok(form.map(|(f, _)| (tenant, f)))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn form_ids_are_recognised_by_shape() {
        let id = super::generate_id();
        assert!(super::is_form_id(&id), "{id}");
        assert_ne!(id, super::generate_id());
        assert!(!super::is_form_id("wf_123"));
        assert!(!super::is_form_id(&id.to_uppercase()));
    }
}
