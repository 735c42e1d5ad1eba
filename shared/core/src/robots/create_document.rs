//! `create_document`: fills a document template from the item, numbers it
//! with a numbering rule, and keeps it as DOCX and/or PDF; the document
//! appears in the item's timeline and in `GET /v1/documents?item_id=`.
//!
//! Exactly once: the files are written first, under keys derived from the
//! run's id (a retried run overwrites them, so an attempt that does not
//! commit leaves nothing that anything refers to); the document record, the
//! numbering rule's counter (a conditional write: the number) and the run's
//! final record commit in one transaction. A run that loses the counter's
//! race is retried with the next number; one that fails takes none.

use super::prelude::*;
use crate::blob_store::BlobKey;
use crate::ports::DocKey;
use crate::documents::numbering::{NumberCounter, counter_id};
use crate::documents::placeholders::Values;
use crate::documents::{
    Document, DocumentFile, DocumentTemplate, FileFormat, Numerator, docx, file_url, pdf,
};
use crate::store::{cond_for, decode};

/// `create_document`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDocument {
    /// The document template (`POST /v1/document-templates`).
    pub template_id: String,
    /// The numbering rule (`POST /v1/numerators`); none: no number.
    #[serde(default)]
    pub numerator_id: Option<String>,
    /// The files to make: `docx`, `pdf` (default both).
    #[serde(default = "both")]
    pub formats: Vec<FileFormat>,
    /// The document's title (default: the template's name and the number).
    #[serde(default)]
    pub title: Option<Template>,
}

fn both() -> Vec<FileFormat> {
    vec![FileFormat::Docx, FileFormat::Pdf]
}

impl RobotType for CreateDocument {
    const GROUP: Group = Group::Documents;
    const DESCRIPTION: &'static str = "Create a document from a template (DOCX, PDF), numbered by a numbering rule";
    const OUTPUTS: &'static [&'static str] = &["document_id", "number", "url"];

    fn templates(&self) -> Vec<(&'static str, &Template)> {
        self.title.iter().map(|t| ("title", t)).collect()
    }

    fn check(&self, cx: &mut Check<'_>) {
        if !self.template_id.trim().is_empty() {
            cx.record("settings.template_id", Kind::DocumentTemplate, &self.template_id);
        }
        if let Some(n) = self.numerator_id.as_ref().filter(|n| !n.trim().is_empty()) {
            cx.record("settings.numerator_id", Kind::Numerator, n);
        }
        cx.require(!self.template_id.trim().is_empty(), "settings.template_id", "must not be empty");
        cx.require(!self.formats.is_empty(), "settings.formats", "at least one of docx, pdf");
        let mut seen = self.formats.clone();
        seen.sort();
        seen.dedup();
        cx.require(seen.len() == self.formats.len(), "settings.formats", "each format at most once");
        if let Some(n) = &self.numerator_id {
            cx.require(!n.trim().is_empty(), "settings.numerator_id", "must not be empty");
        }
    }

    async fn perform(&self, cx: &RunContext<'_>) -> ActionResult {
        let tenant = cx.tenant;
        let engine = cx.engine;
        // One batch read: the template, the numbering rule and its counter.
        let cid = self.numerator_id.as_deref().map(counter_id);
        let mut keys = vec![DocKey::new(tenant, Kind::DocumentTemplate, &self.template_id)];
        if let (Some(nid), Some(cid)) = (&self.numerator_id, &cid) {
            keys.push(DocKey::new(tenant, Kind::Numerator, nid));
            keys.push(DocKey::new(tenant, Kind::Counter, cid));
        }
        let got = engine.ports.store.get_many(&keys).await?;
        let Some(template) = got[0].as_ref().map(decode::<DocumentTemplate>).transpose()? else {
            return fail(format!("document template '{}' not found", self.template_id));
        };
        let Some(bytes) = engine.template_file(tenant, &template).await? else {
            return fail(format!("the file of document template '{}' is missing", template.id));
        };
        // The responsible's date (their zone; UTC without one).
        let today = crate::documents::local_day(cx.now, cx.responsible);
        let mut writes = Vec::new();
        let number = match (&self.numerator_id, &cid) {
            (Some(nid), Some(cid)) => {
                let Some(rule) = got[1].as_ref().map(decode::<Numerator>).transpose()? else {
                    return fail(format!("numerator '{nid}' not found"));
                };
                let (counter, v) = match &got[2] {
                    Some(d) => (Some(decode::<NumberCounter>(d)?), d.version),
                    None => (None, 0),
                };
                let next = rule.rule.next(counter.as_ref(), today);
                let text = rule.rule.format(next.last, today);
                writes.push(put(doc(tenant, Kind::Counter, cid, v + 1, None, &next), cond_for(v)));
                Some(text)
            }
            _ => None,
        };
        let values = Values {
            item: cx.item,
            pipeline: cx.pipeline,
            responsible: cx.responsible,
            number: number.as_deref(),
            today,
        };
        let filled = match docx::fill(&bytes, &|n| values.get(n)) {
            Ok(f) => f,
            Err(e) => return fail(format!("template '{}': {e}", template.id)),
        };
        let title = match &self.title {
            Some(t) => cx.render(t),
            None => match &number {
                Some(n) => format!("{} {n}", template.name),
                None => template.name.clone(),
            },
        };
        let id = cx.id("doc");
        // Keys from the run's id: a retried attempt overwrites its own files.
        let stem = crate::ports::schedule_name(tenant, &cx.run.id);
        let mut files = Vec::new();
        for format in &self.formats {
            let data = match format {
                FileFormat::Docx => filled.clone(),
                FileFormat::Pdf => {
                    let paras = match docx::paragraphs(&filled) {
                        Ok(p) => p,
                        Err(e) => return fail(format!("template '{}': {e}", template.id)),
                    };
                    match pdf::render(&title, &paras) {
                        Ok(p) => p,
                        Err(e) => return fail(e.to_string()),
                    }
                }
            };
            let key = BlobKey::new(tenant, &format!("documents/{stem}.{}", format.as_str()))?;
            let size = data.len() as u64;
            engine.ports.blobs.put(&key, data, format.content_type()).await?;
            files.push(DocumentFile {
                format: *format,
                size,
                content_type: format.content_type().to_string(),
                url: file_url(&id, *format),
                blob_key: key.as_string(),
            });
        }
        let document = Document {
            id: id.clone(),
            item_id: cx.item.id.clone(),
            pipeline_id: cx.item.pipeline_id.clone(),
            template_id: template.id.clone(),
            numerator_id: self.numerator_id.clone(),
            number: number.clone(),
            title: title.clone(),
            file_name: safe_file_name(&title),
            files,
            robot_id: cx.robot.id.clone(),
            run_id: cx.run.id.clone(),
            created_at: cx.now,
        };
        let url = document.files.first().map(|f| f.url.clone()).unwrap_or_default();
        writes.push(put(record_doc(tenant, &document, 1), Cond::Absent));
        writes.push(cx.timeline(
            "document_created",
            None,
            format!("Document created: {title}"),
            serde_json::json!({"document_id": id, "number": number, "url": url}),
        ));
        Ok(Effect::done(writes)
            .output("document_id", id)
            .output("number", number.unwrap_or_default())
            .output("url", url))
    }
}

/// A title as a file name: no path or quote characters, at most 100 chars.
fn safe_file_name(title: &str) -> String {
    let s: String = title
        .chars()
        .map(|c| if c.is_control() || matches!(c, '/' | '\\' | '"' | ':' | '*' | '?' | '<' | '>' | '|') { '_' } else { c })
        .take(100)
        .collect();
    let s = s.trim().to_string();
    if s.is_empty() { "document".into() } else { s }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::robots::check_tests::check;

    #[test]
    fn formats_must_be_given_once_and_a_template_named() {
        assert!(check("create_document", json!({"template_id": "dtp-1", "numerator_id": "num-1"})).0.is_empty());
        let (errors, _) = check("create_document", json!({"template_id": " ", "formats": ["pdf", "pdf"]}));
        assert_eq!(errors, ["settings.template_id", "settings.formats"]);
        let (errors, _) = check("create_document", json!({"template_id": "t", "formats": [], "title": "{{nope}}"}));
        assert_eq!(errors, ["settings.title", "settings.formats"]);
    }
}
