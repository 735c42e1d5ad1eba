//! API operations of documents: templates (`/v1/document-templates`),
//! numbering rules (`/v1/numerators`) and the documents robots made
//! (`/v1/documents`). The robot itself is `robots::create_document`.

use serde::Serialize;

use super::item_list::{decode_cursor, encode_cursor};
use super::{Engine, unprocessable};
use crate::blob_store::BlobKey;
use crate::documents::docx::{self, MAX_DOCX_BYTES};
use crate::documents::numbering::counter_id;
use crate::documents::placeholders::{PLACEHOLDERS, is_known};
use crate::documents::{
    CATALOGUE, Document, DocumentTemplate, FileFormat, Numerator, NumeratorBody,
};
use crate::error::{EngineError, Result};
use crate::ports::{Cond, DocKey, Kind, Write};
use crate::store::{Record, decode, put, record_doc};

/// Most records one page of a documents list holds.
pub const MAX_DOCUMENT_PAGE: usize = 200;
/// Most different placeholders one template may hold.
pub const MAX_TEMPLATE_PLACEHOLDERS: usize = 200;
/// Longest template name or file name.
const MAX_NAME: usize = 200;

/// One page of a list, and the cursor of the next one.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DocumentPage<T> {
    pub records: Vec<T>,
    pub next_cursor: Option<String>,
}

/// The blob key of a template's file at `version`.
pub(crate) fn template_blob(tenant: &str, id: &str, version: u64) -> Result<BlobKey> {
    Ok(BlobKey::new(
        tenant,
        &format!("templates/{id}/v{version}.docx"),
    )?)
}

fn check_names(name: &str, file_name: &str) -> Vec<crate::error::FieldError> {
    let mut errors = Vec::new();
    if name.trim().is_empty() || name.len() > MAX_NAME {
        errors.push(crate::error::FieldError {
            field: "name".into(),
            message: format!("must be 1 to {MAX_NAME} characters"),
        });
    }
    if file_name.len() > MAX_NAME || file_name.contains(['/', '\\', '"', '\n', '\r']) {
        errors.push(crate::error::FieldError {
            field: "file_name".into(),
            message: format!("at most {MAX_NAME} characters, without / \\ \" or line breaks"),
        });
    }
    errors
}

/// The placeholders of an uploaded file, or a 422 naming the unknown ones
/// (field `content`).
fn check_template(bytes: &[u8]) -> Result<Vec<String>> {
    if bytes.len() > MAX_DOCX_BYTES {
        return Err(EngineError::invalid(
            "content",
            format!(
                "the file is {} bytes; at most {MAX_DOCX_BYTES} (2 MiB)",
                bytes.len()
            ),
        ));
    }
    let found =
        docx::placeholders(bytes).map_err(|e| EngineError::invalid("content", e.to_string()))?;
    if found.len() > MAX_TEMPLATE_PLACEHOLDERS {
        return Err(EngineError::invalid(
            "content",
            format!(
                "{} different placeholders; at most {MAX_TEMPLATE_PLACEHOLDERS}",
                found.len()
            ),
        ));
    }
    let unknown: Vec<String> = found
        .iter()
        .filter(|p| !is_known(p))
        .map(|p| format!("{{{p}}}"))
        .collect();
    if !unknown.is_empty() {
        return Err(EngineError::invalid(
            "content",
            format!(
                "unknown placeholder(s) {}; known: {}",
                unknown.join(", "),
                PLACEHOLDERS
                    .iter()
                    .map(|(n, _)| format!("{{{n}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(found)
}

fn page_limit(limit: Option<usize>) -> Result<usize> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=MAX_DOCUMENT_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(EngineError::bad(
            "limit",
            format!("must be 1 to {MAX_DOCUMENT_PAGE}"),
        )),
    }
}

impl Engine {
    /// One page of the records listed under `parent`.
    async fn record_page<T: Record>(
        &self,
        tenant: &str,
        parent: &str,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> Result<DocumentPage<T>> {
        let limit = page_limit(limit)?;
        let after = cursor
            .filter(|c| !c.is_empty())
            .map(decode_cursor)
            .transpose()?;
        let docs = self
            .ports
            .store
            .list_page(tenant, T::KIND, parent, after.as_deref(), limit + 1)
            .await?;
        let next_cursor = (docs.len() > limit).then(|| encode_cursor(&docs[limit - 1].key.id));
        let records = docs
            .iter()
            .take(limit)
            .map(|d| decode::<T>(d))
            .collect::<Result<Vec<T>>>()?;
        Ok(DocumentPage {
            records,
            next_cursor,
        })
    }

    /// Upload a template (`bytes`: the `.docx`).
    pub async fn create_template(
        &self,
        tenant: &str,
        name: &str,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Result<DocumentTemplate> {
        unprocessable(check_names(name, file_name))?;
        let placeholders = check_template(&bytes)?;
        let now = self.now();
        let id = self.ports.ids.next_id("dtp");
        let key = template_blob(tenant, &id, 1)?;
        let t = DocumentTemplate {
            id,
            name: name.to_string(),
            file_name: file_name.to_string(),
            size: bytes.len() as u64,
            placeholders,
            blob_key: key.as_string(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        self.ports
            .blobs
            .put(&key, bytes, FileFormat::Docx.content_type())
            .await?;
        self.commit(vec![put(record_doc(tenant, &t, 1), Cond::Absent)], || {
            format!("template '{}' exists", t.id)
        })
        .await?;
        Ok(t)
    }

    /// Replace a template's name and file.
    pub async fn replace_template(
        &self,
        tenant: &str,
        id: &str,
        name: &str,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Result<DocumentTemplate> {
        let (old, v) = self
            .must::<DocumentTemplate>(tenant, "document template", id)
            .await?;
        unprocessable(check_names(name, file_name))?;
        let placeholders = check_template(&bytes)?;
        let key = template_blob(tenant, id, v + 1)?;
        let t = DocumentTemplate {
            name: name.to_string(),
            file_name: file_name.to_string(),
            size: bytes.len() as u64,
            placeholders,
            blob_key: key.as_string(),
            updated_at: self.now(),
            version: v + 1,
            ..old.clone()
        };
        self.ports
            .blobs
            .put(&key, bytes, FileFormat::Docx.content_type())
            .await?;
        self.commit(
            vec![put(record_doc(tenant, &t, v + 1), Cond::Version(v))],
            || format!("template '{id}' changed meanwhile"),
        )
        .await?;
        // The old file is no longer referenced (a robot that read the old
        // record reads its file before this point or fails and retries).
        if let Ok(k) = BlobKey::parse(&old.blob_key)
            && let Err(e) = self.ports.blobs.delete(&k).await
        {
            tracing::warn!(%id, error = %e, "the replaced template's old file was not deleted");
        }
        Ok(t)
    }

    pub async fn get_template(&self, tenant: &str, id: &str) -> Result<DocumentTemplate> {
        let (mut t, v) = self
            .must::<DocumentTemplate>(tenant, "document template", id)
            .await?;
        t.version = v;
        Ok(t)
    }

    /// A template's `.docx`.
    pub async fn template_file(
        &self,
        tenant: &str,
        t: &DocumentTemplate,
    ) -> Result<Option<Vec<u8>>> {
        let key = BlobKey::parse(&t.blob_key)?;
        if key.tenant() != tenant {
            return Ok(None);
        }
        Ok(self.ports.blobs.get(&key).await?)
    }

    pub async fn list_templates(
        &self,
        tenant: &str,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> Result<DocumentPage<DocumentTemplate>> {
        self.record_page(tenant, CATALOGUE, cursor, limit).await
    }

    /// Delete a template and its file (documents made from it stay).
    pub async fn delete_template(&self, tenant: &str, id: &str) -> Result<()> {
        let (t, v) = self
            .must::<DocumentTemplate>(tenant, "document template", id)
            .await?;
        self.commit(
            vec![Write::Delete {
                key: DocKey::new(tenant, Kind::DocumentTemplate, id),
                parent: Some(CATALOGUE.into()),
                cond: Cond::Version(v),
            }],
            || format!("template '{id}' changed meanwhile"),
        )
        .await?;
        self.ports
            .blobs
            .delete(&BlobKey::parse(&t.blob_key)?)
            .await?;
        Ok(())
    }

    pub async fn create_numerator(&self, tenant: &str, body: NumeratorBody) -> Result<Numerator> {
        unprocessable(body.validate())?;
        let now = self.now();
        let n = Numerator {
            id: self.ports.ids.next_id("num"),
            rule: body,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        self.commit(vec![put(record_doc(tenant, &n, 1), Cond::Absent)], || {
            format!("numerator '{}' exists", n.id)
        })
        .await?;
        Ok(n)
    }

    /// Change a rule. Its counter stays: the next number follows the last
    /// one given (with the new step), unless the period changed.
    pub async fn update_numerator(
        &self,
        tenant: &str,
        id: &str,
        body: NumeratorBody,
    ) -> Result<Numerator> {
        let (old, v) = self.must::<Numerator>(tenant, "numerator", id).await?;
        unprocessable(body.validate())?;
        let n = Numerator {
            rule: body,
            updated_at: self.now(),
            version: v + 1,
            ..old
        };
        self.commit(
            vec![put(record_doc(tenant, &n, v + 1), Cond::Version(v))],
            || format!("numerator '{id}' changed meanwhile"),
        )
        .await?;
        Ok(n)
    }

    pub async fn get_numerator(&self, tenant: &str, id: &str) -> Result<Numerator> {
        let (mut n, v) = self.must::<Numerator>(tenant, "numerator", id).await?;
        n.version = v;
        Ok(n)
    }

    pub async fn list_numerators(
        &self,
        tenant: &str,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> Result<DocumentPage<Numerator>> {
        self.record_page(tenant, CATALOGUE, cursor, limit).await
    }

    /// Delete a rule and its counter.
    pub async fn delete_numerator(&self, tenant: &str, id: &str) -> Result<()> {
        let (_, v) = self.must::<Numerator>(tenant, "numerator", id).await?;
        self.commit(
            vec![
                Write::Delete {
                    key: DocKey::new(tenant, Kind::Numerator, id),
                    parent: Some(CATALOGUE.into()),
                    cond: Cond::Version(v),
                },
                Write::Delete {
                    key: DocKey::new(tenant, Kind::Counter, counter_id(id)),
                    parent: None,
                    cond: Cond::Any,
                },
            ],
            || format!("numerator '{id}' changed meanwhile"),
        )
        .await
    }

    /// The documents of an item (also of a deleted one).
    pub async fn list_documents(
        &self,
        tenant: &str,
        item_id: &str,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> Result<DocumentPage<Document>> {
        self.record_page(tenant, item_id, cursor, limit).await
    }

    pub async fn get_document(&self, tenant: &str, id: &str) -> Result<Document> {
        Ok(self.must::<Document>(tenant, "document", id).await?.0)
    }

    /// A document's file of `format`: the record and the bytes.
    pub async fn document_file(
        &self,
        tenant: &str,
        id: &str,
        format: FileFormat,
    ) -> Result<(Document, Vec<u8>)> {
        let d = self.get_document(tenant, id).await?;
        let Some(f) = d.file(format) else {
            return Err(EngineError::not_found(
                "document file",
                format!("{id}.{}", format.as_str()),
            ));
        };
        let bytes = self
            .ports
            .blobs
            .get(&BlobKey::parse(&f.blob_key)?)
            .await?
            .ok_or_else(|| EngineError::not_found("document file", f.blob_key.clone()))?;
        Ok((d, bytes))
    }
}
