//! Documents (seed 004, "Документы"): `.docx` templates with `{Placeholder}`
//! fields, numbering rules, and the documents the `create_document` robot
//! fills from an item — as DOCX and as PDF — kept as blobs
//! ([`crate::blob_store`]) with a record per document.
//!
//! Everything here is pure: bytes in, bytes out.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ports::Kind;
use crate::store::Record;

pub mod amount_words;
pub mod docx;
pub mod local_day;
pub mod numbering;
pub mod pdf;
pub mod placeholders;
pub mod sample;
pub mod views;

pub use local_day::local_day;
pub use numbering::{Numerator, NumeratorBody, Reset};
pub use views::{DocumentFileView, DocumentView, TemplateView};

/// The parent every template and numbering rule of a tenant is listed under.
pub const CATALOGUE: &str = "all";

/// A file format of a document.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    Docx,
    Pdf,
}

impl FileFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            FileFormat::Docx => "docx",
            FileFormat::Pdf => "pdf",
        }
    }

    pub fn parse(s: &str) -> Option<FileFormat> {
        match s {
            "docx" => Some(FileFormat::Docx),
            "pdf" => Some(FileFormat::Pdf),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            FileFormat::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            FileFormat::Pdf => "application/pdf",
        }
    }
}

/// A document template: a `.docx` file (a blob) and what it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DocumentTemplate {
    pub id: String,
    pub name: String,
    /// The uploaded file's name (`invoice.docx`).
    pub file_name: String,
    /// Size of the file in bytes.
    pub size: u64,
    /// The placeholders it holds, each once, in document order.
    pub placeholders: Vec<String>,
    /// Where the file is kept (blob key).
    pub blob_key: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub version: u64,
}

/// One file of a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DocumentFile {
    pub format: FileFormat,
    pub size: u64,
    pub content_type: String,
    /// `GET` this path (with the API key) for the file.
    pub url: String,
    /// Where the file is kept (blob key).
    pub blob_key: String,
}

/// A document made by a `create_document` robot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Document {
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
    pub files: Vec<DocumentFile>,
    /// The robot and run that made it.
    pub robot_id: String,
    pub run_id: String,
    pub created_at: DateTime<Utc>,
}

impl Document {
    /// The file of `format`, if the document has one.
    pub fn file(&self, format: FileFormat) -> Option<&DocumentFile> {
        self.files.iter().find(|f| f.format == format)
    }
}

/// The path of a document's file in the API.
pub fn file_url(document_id: &str, format: FileFormat) -> String {
    format!(
        "/v1/documents/{document_id}/file?format={}",
        format.as_str()
    )
}

impl Record for DocumentTemplate {
    const KIND: Kind = Kind::DocumentTemplate;
    fn id(&self) -> &str {
        &self.id
    }
    fn parent(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(CATALOGUE))
    }
}

impl Record for Numerator {
    const KIND: Kind = Kind::Numerator;
    fn id(&self) -> &str {
        &self.id
    }
    fn parent(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(CATALOGUE))
    }
}

/// Listed under their item (and kept when the item is deleted).
impl Record for Document {
    const KIND: Kind = Kind::Document;
    fn id(&self) -> &str {
        &self.id
    }
    fn parent(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.item_id))
    }
}
