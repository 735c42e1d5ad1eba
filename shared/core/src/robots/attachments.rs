//! Attachments of the email robots: templates that render to document ids
//! (`{{robot.<id>.document_id}}`), checked to be documents of the tenant and
//! stored on the outbound message.

use super::{ActionError, RunContext, fail};
use crate::documents::Document;
use crate::template::Template;

/// Most attachments of one email.
pub const MAX_ATTACHMENTS: usize = 10;

/// The document ids the templates render to (each once), or why the run fails.
pub(crate) async fn resolve(
    cx: &RunContext<'_>,
    templates: &[Template],
) -> Result<Vec<String>, ActionError> {
    if templates.len() > MAX_ATTACHMENTS {
        return fail(format!("at most {MAX_ATTACHMENTS} attachments"));
    }
    let mut ids: Vec<String> = Vec::new();
    for t in templates {
        let id = cx.render(t).trim().to_string();
        if id.is_empty() {
            return fail(format!(
                "attachment '{}' rendered empty (did the robot that makes the document run?)",
                t.source()
            ));
        }
        if cx.engine.load::<Document>(cx.tenant, &id).await?.is_none() {
            return fail(format!("attachment '{id}' is not a document"));
        }
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}
