//! What the API shows of templates and documents: the stored records without
//! the internal blob keys (where the files are kept is the server's
//! business; the API gives each file's download `url`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Document, DocumentFile, DocumentTemplate, FileFormat};

/// A document template as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "DocumentTemplate")]
pub struct TemplateView {
    pub id: String,
    pub name: String,
    /// The uploaded file's name (`invoice.docx`).
    pub file_name: String,
    /// Size of the file in bytes.
    pub size: u64,
    /// The placeholders it holds, each once, in document order.
    pub placeholders: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: u64,
}

impl From<DocumentTemplate> for TemplateView {
    fn from(t: DocumentTemplate) -> Self {
        TemplateView {
            id: t.id,
            name: t.name,
            file_name: t.file_name,
            size: t.size,
            placeholders: t.placeholders,
            created_at: t.created_at,
            updated_at: t.updated_at,
            version: t.version,
        }
    }
}

/// One file of a document as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "DocumentFile")]
pub struct DocumentFileView {
    pub format: FileFormat,
    pub size: u64,
    pub content_type: String,
    /// `GET` this path (with the API key) for the file.
    pub url: String,
}

impl From<DocumentFile> for DocumentFileView {
    fn from(f: DocumentFile) -> Self {
        DocumentFileView {
            format: f.format,
            size: f.size,
            content_type: f.content_type,
            url: f.url,
        }
    }
}

/// A document as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "Document")]
pub struct DocumentView {
    pub id: String,
    pub item_id: String,
    pub pipeline_id: String,
    pub template_id: String,
    pub numerator_id: Option<String>,
    /// The number the numbering rule gave (none without a rule).
    pub number: Option<String>,
    pub title: String,
    /// The file name without extension (`Invoice INV-2026-0001`).
    pub file_name: String,
    pub files: Vec<DocumentFileView>,
    /// The robot and run that made it.
    pub robot_id: String,
    pub run_id: String,
    pub created_at: DateTime<Utc>,
}

impl From<Document> for DocumentView {
    fn from(d: Document) -> Self {
        DocumentView {
            id: d.id,
            item_id: d.item_id,
            pipeline_id: d.pipeline_id,
            template_id: d.template_id,
            numerator_id: d.numerator_id,
            number: d.number,
            title: d.title,
            file_name: d.file_name,
            files: d.files.into_iter().map(Into::into).collect(),
            robot_id: d.robot_id,
            run_id: d.run_id,
            created_at: d.created_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_carry_no_blob_key() {
        let t: DocumentTemplate = serde_json::from_value(serde_json::json!({
            "id": "dtp-1", "name": "Invoice", "file_name": "i.docx", "size": 3,
            "placeholders": ["Title"], "blob_key": "acme/templates/dtp-1.docx",
            "created_at": "2026-11-23T08:44:00Z", "updated_at": "2026-11-23T08:44:00Z"
        }))
        .unwrap();
        let v = serde_json::to_value(TemplateView::from(t)).unwrap();
        assert!(
            v.get("blob_key").is_none() && v["placeholders"][0] == "Title",
            "{v}"
        );
        let d: Document = serde_json::from_value(serde_json::json!({
            "id": "doc-1", "item_id": "i-1", "pipeline_id": "deals", "template_id": "dtp-1",
            "numerator_id": null, "number": null, "title": "Invoice", "file_name": "Invoice",
            "files": [{"format": "pdf", "size": 9, "content_type": "application/pdf",
                "url": "/v1/documents/doc-1/file?format=pdf", "blob_key": "acme/documents/x.pdf"}],
            "robot_id": "rb-1", "run_id": "run-1", "created_at": "2026-11-23T08:44:00Z"
        }))
        .unwrap();
        let v = serde_json::to_value(DocumentView::from(d)).unwrap();
        assert!(!v.to_string().contains("blob_key"), "{v}");
        assert_eq!(v["files"][0]["url"], "/v1/documents/doc-1/file?format=pdf");
    }
}
