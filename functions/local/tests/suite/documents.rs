//! Documents on the local server (real TCP, SQLite and `<data>/blobs` on a
//! temporary directory, manual clock): a template with split-run
//! placeholders, a numbering rule, the `create_document` robot on a stage,
//! the files downloaded and read back (the DOCX's XML, the PDF's text
//! through `pdftotext` from poppler-utils), the email robot after it
//! attaching the document, and tenants kept apart.

use crate::common;

use std::io::Read as _;

use base64::Engine as _;
use common::*;
use crm_core::documents::sample::{docx, paragraph, run};
use reqwest::Method;
use serde_json::{Value, json};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A raw download: status, content type, content disposition, bytes.
async fn download(api: &Api, path: &str) -> (u16, String, String, Vec<u8>) {
    let resp = api
        .http
        .get(format!("{}{path}", api.base))
        .bearer_auth(&api.key)
        .send()
        .await
        .unwrap();
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let (status, ct, cd) = (
        resp.status().as_u16(),
        header("content-type"),
        header("content-disposition"),
    );
    (status, ct, cd, resp.bytes().await.unwrap().to_vec())
}

fn document_xml(docx: &[u8]) -> String {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(docx)).expect("a zip package");
    let mut xml = String::new();
    zip.by_name("word/document.xml")
        .expect("word/document.xml")
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

/// The text of a PDF as poppler's `pdftotext` extracts it.
pub fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg("-enc")
        .arg("UTF-8")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (apt-get install poppler-utils) extracts the PDF's text");
    assert!(
        out.status.success(),
        "pdftotext: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn setup_documents(api: &Api) -> (String, String) {
    let t = api
        .post(
            "/v1/document-templates",
            json!({"name": "Invoice", "file_name": "invoice.docx",
                   "content": b64(&crm_core::documents::sample::invoice())}),
        )
        .await;
    let n = api
        .post(
            "/v1/numerators",
            json!({"name": "Invoices", "template": "INV-{YYYY}-{NUMBER}", "padding": 4, "reset": "year"}),
        )
        .await;
    assert!(t.get("blob_key").is_none(), "internal: {t}");
    (
        t["id"].as_str().unwrap().into(),
        n["id"].as_str().unwrap().into(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_are_checked_at_upload_listed_paged_replaced_and_deleted() {
    let (_dir, server, api, globex) = started(MONDAY_1144_MSK).await;
    // An unknown placeholder, typed over two runs: 422 naming it.
    let bad = docx(&paragraph(&[
        run("Dear {Clie", false, false),
        run("nt}, {Clinet} {Title}", true, false),
    ]));
    let (status, v) = api
        .call(
            Method::POST,
            "/v1/document-templates",
            Some(json!({"name": "Bad", "content": b64(&bad)})),
        )
        .await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["details"][0]["field"], "content");
    let msg = v["error"]["details"][0]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("unknown placeholder(s) {Clinet};"),
        "only the unknown one, the split {{Client}} is known: {msg}"
    );
    // Not a .docx, not base64: 422 on `content`.
    for content in [b64(b"hello"), "%%%".to_string()] {
        let (status, v) = api
            .call(
                Method::POST,
                "/v1/document-templates",
                Some(json!({"name": "X", "content": content})),
            )
            .await;
        assert_eq!(
            (status, v["error"]["details"][0]["field"].clone()),
            (422, json!("content")),
            "{v}"
        );
    }
    // Over the body limit: 413, answered from the declared length. (Sent
    // by hand: a client that writes the whole 4 MiB may still be writing
    // when the server answers and closes, and see a broken connection.)
    assert_eq!(
        status_of_declared_upload(&server, "/v1/document-templates", 4 * 1024 * 1024).await,
        413
    );

    let mut ids = Vec::new();
    for i in 0..3 {
        let t = api
            .post(
                "/v1/document-templates",
                json!({"name": format!("T{i}"), "content": b64(&crate_sample())}),
            )
            .await;
        assert_eq!(t["placeholders"], json!(["Title", "Field:budget"]));
        ids.push(t["id"].as_str().unwrap().to_string());
    }
    let p1 = api.get("/v1/document-templates?limit=2").await;
    assert_eq!(p1["templates"].as_array().unwrap().len(), 2);
    let cursor = p1["next_cursor"].as_str().unwrap();
    let p2 = api
        .get(&format!("/v1/document-templates?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(p2["templates"].as_array().unwrap().len(), 1);
    assert!(p2["next_cursor"].is_null());
    // Another tenant sees none of them.
    assert_eq!(
        globex.get("/v1/document-templates").await["templates"],
        json!([])
    );
    let (status, _) = globex
        .call(
            Method::GET,
            &format!("/v1/document-templates/{}", ids[0]),
            None,
        )
        .await;
    assert_eq!(status, 404);
    // Replace: new file, new placeholders; the file downloads as uploaded.
    let new_file = crm_core::documents::sample::invoice();
    let t = api
        .put(
            &format!("/v1/document-templates/{}", ids[0]),
            json!({"name": "Invoice", "file_name": "inv.docx", "content": b64(&new_file)}),
        )
        .await;
    assert!(
        t["placeholders"]
            .as_array()
            .unwrap()
            .contains(&json!("DocumentNumber"))
    );
    let (status, ct, cd, bytes) =
        download(&api, &format!("/v1/document-templates/{}/file", ids[0])).await;
    assert_eq!(status, 200);
    assert!(ct.contains("wordprocessingml"), "{ct}");
    assert!(cd.contains("inv.docx"), "{cd}");
    assert_eq!(bytes, new_file);
    let (status, _) = api
        .call(
            Method::DELETE,
            &format!("/v1/document-templates/{}", ids[0]),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = api
        .call(
            Method::GET,
            &format!("/v1/document-templates/{}", ids[0]),
            None,
        )
        .await;
    assert_eq!(status, 404);
    // The placeholders are listed for template authors.
    let p = api.get("/v1/document-placeholders").await;
    assert!(
        p["placeholders"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "AmountInWords")
    );
    server.shutdown().await.unwrap();
}

fn crate_sample() -> Vec<u8> {
    docx(&paragraph(&[
        run("{Ti", false, false),
        run("tle} budget {Field:budget}", false, true),
    ]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deal_entering_the_stage_gets_a_numbered_invoice_and_the_email_after_it_attaches_it() {
    let (_dir, server, api, globex) = started(MONDAY_1144_MSK).await;
    let (template, numerator) = setup_documents(&api).await;
    let doc_robot = api
        .robot(json!({"stage_id": "prep", "type": "create_document", "name": "Invoice",
            "settings": {"template_id": template, "numerator_id": numerator, "formats": ["docx", "pdf"]}}))
        .await;
    let mail = api
        .robot(
            json!({"stage_id": "prep", "type": "email_client", "after_previous": true,
            "settings": {"subject": format!("Invoice {{{{robot.{doc_robot}.number}}}}"),
                         "text": "The invoice is attached.",
                         "attachments": [format!("{{{{robot.{doc_robot}.document_id}}}}")]}}),
        )
        .await;
    let item = api.deal("new", 25000.0).await;
    api.move_to(&item, "prep").await;

    let runs = api.runs(&item).await;
    let run = run_of(&runs, &doc_robot);
    assert_eq!(run["status"], "done", "{run:#}");
    assert_eq!(run["outputs"]["number"], "INV-2026-0001");
    let doc_id = run["outputs"]["document_id"].as_str().unwrap().to_string();
    assert_eq!(
        run["outputs"]["url"],
        format!("/v1/documents/{doc_id}/file?format=docx")
    );
    assert_eq!(run_of(&runs, &mail)["status"], "done", "{runs:#?}");

    let docs = api.get(&format!("/v1/documents?item_id={item}")).await["documents"].clone();
    assert_eq!(docs.as_array().unwrap().len(), 1, "{docs:#}");
    assert_eq!(docs[0]["id"], doc_id.as_str());
    assert_eq!(docs[0]["number"], "INV-2026-0001");
    assert_eq!(docs[0]["title"], "Invoice INV-2026-0001");
    assert!(
        !docs.to_string().contains("blob_key"),
        "the API does not show where files are kept: {docs}"
    );
    let tl = api.timeline(&item).await;
    let entry = tl
        .iter()
        .find(|e| e["kind"] == "document_created")
        .expect("on the timeline");
    assert_eq!(entry["data"]["document_id"], doc_id.as_str());

    // The DOCX: the values in the template's runs, formatting kept.
    let (status, ct, cd, bytes) =
        download(&api, &format!("/v1/documents/{doc_id}/file?format=docx")).await;
    assert_eq!(status, 200);
    assert_eq!(
        ct,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    );
    assert!(
        cd.starts_with("attachment;") && cd.contains("Invoice INV-2026-0001.docx"),
        "{cd}"
    );
    let xml = document_xml(&bytes);
    assert!(
        xml.contains(
            r#"<w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">INV-2026-0001</w:t></w:r>"#
        ),
        "the number is in the first (bold) run of its split placeholder: {xml}"
    );
    for want in [
        "Romashka LLC, buyer@romashka.test",
        "25 000.00 RUB",
        "двадцать пять тысяч рублей 00 копеек",
        "twenty-five thousand rubles 00 kopecks",
        "Anna Sales",
        "23.11.2026",
        "Website for Romashka",
    ] {
        assert!(xml.contains(want), "{want} in {xml}");
    }
    assert!(!xml.contains('{'), "no placeholder left: {xml}");

    // The PDF shows the same values.
    let (status, ct, cd, pdf) =
        download(&api, &format!("/v1/documents/{doc_id}/file?format=pdf")).await;
    assert_eq!((status, ct.as_str()), (200, "application/pdf"));
    assert!(cd.contains("Invoice INV-2026-0001.pdf"), "{cd}");
    let text = pdf_text(&pdf);
    for want in [
        "INV-2026-0001",
        "25 000.00",
        "Romashka LLC",
        "двадцать пять тысяч рублей",
        "Anna Sales",
    ] {
        assert!(text.contains(want), "{want} in the PDF's text: {text}");
    }

    // The email carries the attachment.
    let out = api.get("/v1/outbox?channel=email").await;
    let mails: Vec<&Value> = out["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["item_id"] == item.as_str())
        .collect();
    assert_eq!(mails.len(), 1, "{out:#}");
    assert_eq!(mails[0]["attachments"], json!([doc_id]));
    assert_eq!(mails[0]["subject"], "Invoice INV-2026-0001");

    // Bad requests and other tenants.
    let (status, v) = api
        .call(
            Method::GET,
            &format!("/v1/documents/{doc_id}/file?format=odt"),
            None,
        )
        .await;
    assert_eq!(
        (status, v["error"]["details"][0]["field"].clone()),
        (400, json!("format"))
    );
    let (status, _) = api.call(Method::GET, "/v1/documents", None).await;
    assert_eq!(status, 400);
    for path in [
        format!("/v1/documents/{doc_id}"),
        format!("/v1/documents/{doc_id}/file?format=pdf"),
    ] {
        assert_eq!(globex.call(Method::GET, &path, None).await.0, 404, "{path}");
    }
    assert_eq!(
        globex.get(&format!("/v1/documents?item_id={item}")).await["documents"],
        json!([])
    );

    // The next deal takes the next number; a deleted item's documents stay.
    let second = api.deal("new", 1000.0).await;
    api.move_to(&second, "prep").await;
    let d2 = api.get(&format!("/v1/documents?item_id={second}")).await["documents"][0].clone();
    assert_eq!(d2["number"], "INV-2026-0002");
    let (status, _) = api
        .call(Method::DELETE, &format!("/v1/items/{item}"), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        api.get(&format!("/v1/documents/{doc_id}")).await["number"],
        "INV-2026-0001"
    );
    let (status, _, _, again) =
        download(&api, &format!("/v1/documents/{doc_id}/file?format=docx")).await;
    assert_eq!((status, again == bytes), (200, true));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_template_fails_the_run_with_the_reason_and_takes_no_number() {
    let (_dir, server, api, _) = started(MONDAY_1144_MSK).await;
    let (template, numerator) = setup_documents(&api).await;
    // Unknown template or rule: 422 naming the setting, nothing saved.
    let (status, v) = api
        .call(
            Method::POST,
            "/v1/pipelines/deals/robots",
            Some(json!({"stage_id": "prep", "type": "create_document",
                "settings": {"template_id": "dtp-nope", "numerator_id": "num-nope"}})),
        )
        .await;
    assert_eq!(status, 422, "{v}");
    let fields: Vec<&str> = v["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["settings.template_id", "settings.numerator_id"],
        "{v}"
    );
    let r = api
        .robot(json!({"stage_id": "prep", "type": "create_document",
            "settings": {"template_id": template, "numerator_id": numerator, "formats": ["pdf"]}}))
        .await;
    let (status, _) = api
        .call(
            Method::DELETE,
            &format!("/v1/document-templates/{template}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let item = api.deal("new", 10.0).await;
    api.move_to(&item, "prep").await;
    let run = run_of(&api.runs(&item).await, &r).clone();
    assert_eq!(run["status"], "failed");
    assert!(
        run["reason"].as_str().unwrap().contains("not found"),
        "{run:#}"
    );
    // The rule gave no number: a new template's first document is 0001.
    let (template, _) = setup_documents(&api).await;
    api.put(
        &format!("/v1/pipelines/deals/robots/{r}"),
        json!({"stage_id": "prep", "type": "create_document",
        "settings": {"template_id": template, "numerator_id": numerator, "formats": ["pdf"]}}),
    )
    .await;
    let next = api.deal("new", 10.0).await;
    api.move_to(&next, "prep").await;
    let doc = api.get(&format!("/v1/documents?item_id={next}")).await["documents"][0].clone();
    assert_eq!(doc["number"], "INV-2026-0001");
    assert_eq!(doc["files"].as_array().unwrap().len(), 1);
    server.shutdown().await.unwrap();
}

/// The status a POST of `path` declaring a JSON body of `length` bytes gets,
/// with only the body's first bytes sent.
async fn status_of_declared_upload(
    server: &crm_automation::Server,
    path: &str,
    length: usize,
) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer key-acme\r\n\
         content-type: application/json\r\ncontent-length: {length}\r\n\r\n{{\"name\":"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 1024];
    let mut got = Vec::new();
    while !got.windows(2).any(|w| w == b"\r\n") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(30), s.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(n > 0, "closed without an answer");
        got.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&got);
    line.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {line:?}"))
}
