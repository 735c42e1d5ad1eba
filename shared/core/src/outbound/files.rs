//! The files of an outbound email: each document the robot listed
//! (`attachments`, see [`crate::robots::attachments`]) read through the blob
//! port when the message is handed to the provider — after the attempt's
//! `sending` mark is committed, never inside a transaction.
//!
//! Which file of a document: its PDF when it has one, else its DOCX (the
//! `create_document` robot's `formats` decide what exists: `["docx"]` sends
//! the Word file). The file is named after the document (`Invoice
//! INV-2026-0001.pdf`).
//!
//! Failures: a document or file that no longer exists, or files larger than
//! [`MAX_ATTACHMENT_BYTES`] together, are permanent (the message fails with
//! the reason, not retried); blob storage being unavailable is transient.

use crate::blob_store::{BlobError, BlobKey};
use crate::documents::{Document, FileFormat};
use crate::engine::Engine;
use crate::model::Outbound;
use crate::ports::PortError;

/// Most bytes of files one email carries, together: 7,000,000 (7 MB).
/// Base64 makes them a third larger and adds a line break every 76
/// characters (about 9.6 MB), which leaves room for the body and headers
/// under the 10 MB that Amazon SES accepts for a raw message (and that
/// most SMTP servers take).
pub const MAX_ATTACHMENT_BYTES: u64 = 7_000_000;

/// One file attached to an email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundFile {
    /// The name the receiver sees (`Invoice INV-2026-0001.pdf`).
    pub file_name: String,
    /// `application/pdf` or the DOCX type.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// The file of `doc` an email carries: the PDF, else the DOCX.
fn file_to_send(doc: &Document) -> Option<&crate::documents::DocumentFile> {
    doc.file(FileFormat::Pdf)
        .or_else(|| doc.file(FileFormat::Docx))
}

impl Engine {
    /// The files of `m`'s documents, in the order listed, or why the message
    /// cannot carry them.
    pub async fn outbound_files(&self, m: &Outbound) -> Result<Vec<OutboundFile>, PortError> {
        let mut chosen = Vec::new();
        let mut total = 0u64;
        for id in &m.attachments {
            let doc = self
                .load::<Document>(&m.tenant, id)
                .await
                .map_err(|e| PortError::Unavailable(format!("reading document {id}: {e}")))?
                .map(|(d, _)| d)
                .ok_or_else(|| {
                    PortError::Rejected(format!("attachment: document {id} does not exist"))
                })?;
            let file = file_to_send(&doc).cloned().ok_or_else(|| {
                PortError::Rejected(format!("attachment: document {id} has no file"))
            })?;
            total += file.size;
            chosen.push((doc, file));
        }
        check_total(total)?;
        let mut files = Vec::with_capacity(chosen.len());
        let mut read = 0u64;
        for (doc, file) in chosen {
            let key = BlobKey::parse(&file.blob_key).map_err(|e| {
                PortError::Rejected(format!("attachment: document {}: {e}", doc.id))
            })?;
            let bytes = self
                .ports
                .blobs
                .get(&key)
                .await
                .map_err(|e| match e {
                    BlobError::Unavailable(why) => {
                        PortError::Unavailable(format!("attachment: blob storage: {why}"))
                    }
                    other => PortError::Rejected(format!("attachment: {other}")),
                })?
                .ok_or_else(|| {
                    PortError::Rejected(format!(
                        "attachment: the {} file of document {} is missing",
                        file.format.as_str(),
                        doc.id
                    ))
                })?;
            read += bytes.len() as u64;
            check_total(read)?;
            files.push(OutboundFile {
                file_name: format!("{}.{}", doc.file_name, file.format.as_str()),
                content_type: file.format.content_type().to_string(),
                bytes,
            });
        }
        Ok(files)
    }
}

fn check_total(total: u64) -> Result<(), PortError> {
    if total > MAX_ATTACHMENT_BYTES {
        return Err(PortError::Rejected(format!(
            "attachments: {total} bytes of files, more than the {MAX_ATTACHMENT_BYTES} bytes (7 MB) one email may carry"
        )));
    }
    Ok(())
}
