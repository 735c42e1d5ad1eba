//! The documents an email robot attaches travel with the email (issue #15):
//! the engine reads each document's file through the blob port when it
//! hands the message to the provider — the PDF when the document has one,
//! else the DOCX — and a message whose file is gone or too large fails for
//! good with the reason instead of being retried (memory runtime, a
//! recording fake provider).

use chrono::Duration;
use crm_core::blob_store::{BlobKey, BlobStore};
use crm_core::documents::{Document, FileFormat, NumeratorBody, sample};
use crm_core::memory::MemRuntime;
use crm_core::model::{Channel, Outbound, OutboundStatus};
use crm_core::outbound::files::MAX_ATTACHMENT_BYTES;
use crm_core::ports::PortError;
use crm_core::testing::{TENANT, at, body, deal, load, settled_item};
use serde_json::json;

/// A company whose `prep` stage makes a numbered invoice in `formats` and
/// then emails it to the client.
async fn invoicing(formats: serde_json::Value) -> MemRuntime {
    let rt = MemRuntime::new(at("2026-03-02T09:00:00Z"));
    load(&rt.engine, TENANT).await.unwrap();
    let t = rt
        .engine
        .create_template(TENANT, "Invoice", "invoice.docx", sample::invoice())
        .await
        .unwrap();
    let n = rt
        .engine
        .create_numerator(
            TENANT,
            body::<NumeratorBody>(
                json!({"name": "Invoices", "template": "INV-{NUMBER}", "padding": 3}),
            ),
        )
        .await
        .unwrap();
    let doc_robot = rt
        .engine
        .create_robot(
            TENANT,
            "deals",
            body(json!({"stage_id": "prep", "type": "create_document",
                "settings": {"template_id": t.id, "numerator_id": n.id, "formats": formats}})),
        )
        .await
        .unwrap();
    rt.engine
        .create_robot(
            TENANT,
            "deals",
            body(
                json!({"stage_id": "prep", "type": "email_client", "after_previous": true,
                "settings": {"subject": "Your invoice", "text": "The invoice is attached.",
                    "attachments": [format!("{{{{robot.{}.document_id}}}}", doc_robot.id)]}}),
            ),
        )
        .await
        .unwrap();
    rt
}

async fn the_email(rt: &MemRuntime) -> Outbound {
    let all = rt
        .engine
        .list_outbound(TENANT, Some(Channel::Email))
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "{all:#?}");
    all.into_iter().next().unwrap()
}

async fn the_document(rt: &MemRuntime, item: &str) -> Document {
    let docs = rt
        .engine
        .list_documents(TENANT, item, None, None)
        .await
        .unwrap()
        .records;
    assert_eq!(docs.len(), 1, "{docs:#?}");
    docs.into_iter().next().unwrap()
}

#[tokio::test]
async fn the_email_carries_the_pdf_of_the_document_byte_for_byte() {
    let rt = invoicing(json!(["docx", "pdf"])).await;
    let item = settled_item(&rt, deal("prep", 25_000.0)).await;
    let doc = the_document(&rt, &item.id).await;
    let m = the_email(&rt).await;
    assert_eq!(m.status, OutboundStatus::Sent, "{m:#?}");
    assert_eq!(m.attachments, vec![doc.id.clone()]);
    let files = rt.delivery.files_of(&m.id);
    assert_eq!(
        files.len(),
        1,
        "only the PDF of a document made in both formats"
    );
    assert_eq!(files[0].file_name, "Invoice INV-001.pdf");
    assert_eq!(files[0].content_type, "application/pdf");
    let (_, pdf) = rt
        .engine
        .document_file(TENANT, &doc.id, FileFormat::Pdf)
        .await
        .unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    assert_eq!(files[0].bytes, pdf);
}

#[tokio::test]
async fn a_document_made_only_as_docx_is_sent_as_docx() {
    let rt = invoicing(json!(["docx"])).await;
    let item = settled_item(&rt, deal("prep", 1_000.0)).await;
    let doc = the_document(&rt, &item.id).await;
    let m = the_email(&rt).await;
    assert_eq!(m.status, OutboundStatus::Sent, "{m:#?}");
    let files = rt.delivery.files_of(&m.id);
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].file_name, "Invoice INV-001.docx");
    assert_eq!(files[0].content_type, FileFormat::Docx.content_type());
    let (_, docx) = rt
        .engine
        .document_file(TENANT, &doc.id, FileFormat::Docx)
        .await
        .unwrap();
    assert_eq!(files[0].bytes, docx);
}

/// The first attempt meets a busy provider, so the message waits a minute
/// for its next attempt; `change` happens in that minute.
async fn retried_after(rt: &MemRuntime, item: &str) -> (Document, Outbound) {
    let doc = the_document(rt, item).await;
    let m = the_email(rt).await;
    assert_eq!(m.status, OutboundStatus::Queued, "{m:#?}");
    (doc, m)
}

fn pdf_key(doc: &Document) -> BlobKey {
    BlobKey::parse(&doc.file(FileFormat::Pdf).unwrap().blob_key).unwrap()
}

#[tokio::test]
async fn a_missing_file_fails_the_email_for_good_with_the_reason() {
    let rt = invoicing(json!(["pdf"])).await;
    rt.delivery
        .fail_next(vec![PortError::Unavailable("421 busy".into())]);
    let item = settled_item(&rt, deal("prep", 1_000.0)).await;
    let (doc, _) = retried_after(&rt, &item.id).await;
    rt.blobs.delete(&pdf_key(&doc)).await.unwrap();
    rt.advance(Duration::seconds(60)).await.unwrap();
    let m = the_email(&rt).await;
    assert_eq!(m.status, OutboundStatus::Failed, "{m:#?}");
    let why = m.last_error.clone().unwrap();
    assert!(
        why.contains(&format!("the pdf file of document {} is missing", doc.id))
            && why.contains("not retried"),
        "{why}"
    );
    assert_eq!(
        rt.delivery.calls().len(),
        1,
        "nothing handed to the provider without its file"
    );
    rt.advance(Duration::hours(24)).await.unwrap();
    assert_eq!(the_email(&rt).await.status, OutboundStatus::Failed);
    assert_eq!(rt.delivery.calls().len(), 1, "and not retried");
    let timeline = rt.engine.timeline(TENANT, &item.id).await.unwrap();
    assert!(
        timeline
            .iter()
            .any(|e| e.kind == "delivery_failed" && e.text.contains("is missing")),
        "{timeline:#?}"
    );
}

#[tokio::test]
async fn files_over_the_limit_fail_the_email_for_good() {
    let rt = invoicing(json!(["pdf"])).await;
    rt.delivery
        .fail_next(vec![PortError::Unavailable("421 busy".into())]);
    let item = settled_item(&rt, deal("prep", 1_000.0)).await;
    let (doc, _) = retried_after(&rt, &item.id).await;
    let huge = vec![b'x'; MAX_ATTACHMENT_BYTES as usize + 1];
    rt.blobs
        .put(&pdf_key(&doc), huge, "application/pdf")
        .await
        .unwrap();
    rt.advance(Duration::seconds(60)).await.unwrap();
    let m = the_email(&rt).await;
    assert_eq!(m.status, OutboundStatus::Failed, "{m:#?}");
    let why = m.last_error.unwrap();
    assert!(why.contains("7 MB") && why.contains("not retried"), "{why}");
    assert_eq!(rt.delivery.calls().len(), 1);
}
