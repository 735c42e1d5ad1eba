//! Pipelines: stages and custom fields.

use std::collections::HashSet;

use crate::api::PipelineBody;
use crate::api::check_id;
use crate::error::{FieldError, Result};
use crate::model::Pipeline;
use crate::robots::Robot;
use crate::store::{cond_for, put, record_doc};
use crate::triggers::Trigger;

use super::{Engine, unprocessable};

impl Engine {
    // ---------------------------------------------------------------- pipelines

    pub async fn put_pipeline(
        &self,
        tenant: &str,
        id: &str,
        body: PipelineBody,
    ) -> Result<Pipeline> {
        check_id("id", id)?;
        let mut errors = Vec::new();
        if let Some(bid) = &body.id
            && bid != id
        {
            errors.push(FieldError {
                field: "id".into(),
                message: format!("'{bid}' does not match the path id '{id}'"),
            });
        }
        let et = body.entity_type.as_str();
        let known_type = matches!(et, "lead" | "deal" | "quote" | "invoice")
            || et.strip_prefix("smart:").is_some_and(|c| !c.is_empty());
        if !known_type {
            errors.push(FieldError {
                field: "entity_type".into(),
                message: format!(
                    "unknown entity type '{et}' (lead, deal, quote, invoice or smart:<code>)"
                ),
            });
        }
        if body.stages.is_empty() {
            errors.push(FieldError {
                field: "stages".into(),
                message: "a pipeline needs at least one stage".into(),
            });
        }
        let mut seen = HashSet::new();
        for (i, s) in body.stages.iter().enumerate() {
            if s.id.trim().is_empty() {
                errors.push(FieldError {
                    field: format!("stages[{i}].id"),
                    message: "must not be empty".into(),
                });
            }
            if !seen.insert(s.id.as_str()) {
                errors.push(FieldError {
                    field: format!("stages[{i}].id"),
                    message: format!("duplicate stage id '{}'", s.id),
                });
            }
        }
        let mut keys = HashSet::new();
        for (i, f) in body.fields.iter().enumerate() {
            if !keys.insert(f.key.as_str()) || f.key.trim().is_empty() {
                errors.push(FieldError {
                    field: format!("fields[{i}].key"),
                    message: format!("empty or duplicate field key '{}'", f.key),
                });
            }
        }
        let old = self.load::<Pipeline>(tenant, id).await?;
        if let Some((o, _)) = &old {
            if o.entity_type != body.entity_type {
                errors.push(FieldError {
                    field: "entity_type".into(),
                    message: "the entity type of a pipeline cannot change".into(),
                });
            }
            let robots: Vec<Robot> = self.list(tenant, id).await?;
            let triggers: Vec<Trigger> = self.list(tenant, id).await?;
            for s in robots
                .iter()
                .map(|r| &r.stage_id)
                .chain(triggers.iter().map(|t| &t.stage_id))
            {
                if !body.stages.iter().any(|x| &x.id == s) {
                    errors.push(FieldError {
                        field: "stages".into(),
                        message: format!(
                            "stage '{s}' still has robots or triggers; delete them first"
                        ),
                    });
                    break;
                }
            }
        }
        unprocessable(errors)?;
        let p = Pipeline {
            id: id.to_string(),
            entity_type: body.entity_type,
            name: body.name,
            stages: body.stages,
            fields: body.fields,
            email_tracking: body.email_tracking.unwrap_or(true),
        };
        let version = old.map_or(0, |(_, v)| v);
        self.commit(
            vec![put(record_doc(tenant, &p, version + 1), cond_for(version))],
            || format!("pipeline '{id}' was changed concurrently"),
        )
        .await?;
        Ok(p)
    }

    pub async fn get_pipeline(&self, tenant: &str, id: &str) -> Result<Pipeline> {
        Ok(self.must(tenant, "pipeline", id).await?.0)
    }
}
