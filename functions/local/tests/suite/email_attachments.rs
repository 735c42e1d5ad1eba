//! Documents attached to a robot's email leave with it (issue #15), on the
//! local server over real SMTP: a deal entering the stage gets a numbered
//! invoice (DOCX and PDF) from `create_document`, and the email robot after
//! it sends the PDF to a real SMTP sink on 127.0.0.1. The received message
//! is `multipart/mixed`, read back with a MIME parser: the body, then the
//! PDF attachment named after the document, whose bytes equal the
//! document's file as `GET /v1/documents/{id}/file?format=pdf` serves it.
//!
//! It sets the process environment before the server starts (nextest runs
//! each test in a process of its own).

use crate::common;

use base64::Engine as _;
use common::smtp_sink::Sink;
use common::{MONDAY_1144_MSK, run_of, started};
use mail_parser::{MessageParser, MimeHeaders};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_robots_email_carries_the_documents_pdf_to_the_smtp_server() {
    let (sink, smtp_port) = Sink::start().await;
    // SAFETY: the only test of this binary; set before anything reads them.
    unsafe {
        std::env::set_var("CRM_SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}"));
        std::env::set_var("CRM_MAIL_FROM", "CRM Robots <robots@shop.test>");
    }
    let (_dir, server, api, _globex) = started(MONDAY_1144_MSK).await;
    let template = api
        .post(
            "/v1/document-templates",
            json!({"name": "Invoice", "file_name": "invoice.docx",
                   "content": base64::engine::general_purpose::STANDARD
                       .encode(crm_core::documents::sample::invoice())}),
        )
        .await;
    let numerator = api
        .post(
            "/v1/numerators",
            json!({"name": "Invoices", "template": "INV-{YYYY}-{NUMBER}", "padding": 4}),
        )
        .await;
    let doc_robot = api
        .robot(json!({"stage_id": "prep", "type": "create_document",
            "settings": {"template_id": template["id"], "numerator_id": numerator["id"],
                         "formats": ["docx", "pdf"]}}))
        .await;
    let mail = api
        .robot(
            json!({"stage_id": "prep", "type": "email_client", "after_previous": true,
            "settings": {"subject": format!("Invoice {{{{robot.{doc_robot}.number}}}}"),
                         "text": "<p>The invoice is attached.</p>",
                         "attachments": [format!("{{{{robot.{doc_robot}.document_id}}}}")]}}),
        )
        .await;
    let item = api.deal("new", 25_000.0).await;
    api.move_to(&item, "prep").await;
    let runs = api.runs(&item).await;
    assert_eq!(run_of(&runs, &mail)["status"], "done", "{runs:#?}");
    let doc_id = run_of(&runs, &doc_robot)["outputs"]["document_id"]
        .as_str()
        .unwrap()
        .to_string();

    let emails = api.all_pages("/v1/outbox?channel=email", "messages").await;
    let email = emails
        .iter()
        .find(|m| m["item_id"] == item.as_str() && m["attachments"] == json!([doc_id]))
        .unwrap_or_else(|| panic!("the invoice email in {emails:#?}"));
    assert_eq!(email["status"], "sent", "{email:#}");

    let got = sink.messages.lock().unwrap().clone();
    let raw = got
        .iter()
        .find(|m| m.contains("Subject: Invoice INV-2026-0001"))
        .unwrap_or_else(|| panic!("the invoice email at the SMTP server: {got:#?}"));
    let parsed = MessageParser::default()
        .parse(raw.as_bytes())
        .expect("a MIME message");
    let root = parsed.root_part().content_type().unwrap();
    assert_eq!((root.ctype(), root.subtype()), ("multipart", Some("mixed")));
    assert_eq!(
        parsed.body_text(0).unwrap().trim(),
        "The invoice is attached."
    );
    assert_eq!(parsed.attachment_count(), 1, "only the PDF: {raw}");
    let pdf = parsed.attachment(0).unwrap();
    assert_eq!(pdf.attachment_name(), Some("Invoice INV-2026-0001.pdf"));
    let ct = pdf.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("application", Some("pdf")));

    let served = api
        .http
        .get(format!(
            "{}/v1/documents/{doc_id}/file?format=pdf",
            api.base
        ))
        .bearer_auth(&api.key)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(served.starts_with(b"%PDF"));
    assert_eq!(pdf.contents(), served.as_ref(), "the document's bytes");
    server.shutdown().await.unwrap();
}
