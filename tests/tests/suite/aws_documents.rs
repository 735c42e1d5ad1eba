//! Documents on the AWS home, on LocalStack (S3 + DynamoDB + SQS): a
//! template uploaded through the api Lambda (API Gateway events), the
//! `create_document` robot run by the real handlers, the files kept in S3
//! and downloaded through the api Lambda as binary responses.
//!
//! LocalStack must run with `s3` in SERVICES (`infra/localstack.sh`); these
//! tests fail, they do not skip, without it.

use base64::Engine as _;
use crm_core::testing::{MONDAY_1144_MSK, at, body};
use crm_tests::aws_rig::AwsRig;
use http_body_util::BodyExt;
use serde_json::{Value, json};

/// One API Gateway (HTTP API, payload 2.0) request through the api Lambda:
/// status, content type and body bytes.
async fn call(
    router: &axum::Router,
    key: &str,
    method: &str,
    path: &str,
    query: &str,
    b: Option<Value>,
) -> (u16, String, Vec<u8>) {
    let mut event = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": {"content-type": "application/json", "authorization": format!("Bearer {key}"),
            "host": "abc123.execute-api.us-east-1.amazonaws.com"},
        "requestContext": {"accountId": "123456789012", "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com", "domainPrefix": "abc123",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "test"},
            "requestId": "req", "routeKey": "$default", "stage": "$default",
            "time": "23/Nov/2026:08:44:00 +0000", "timeEpoch": 1_763_887_440_000_i64},
        "isBase64Encoded": false
    });
    if !query.is_empty() {
        let params: serde_json::Map<String, Value> = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        event["queryStringParameters"] = Value::Object(params);
    }
    if let Some(b) = b {
        event["body"] = json!(b.to_string());
    }
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let response = crm_fn_api::handle(router, request).await;
    let status = response.status().as_u16();
    let ct = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, ct, bytes)
}

async fn json_call(
    router: &axum::Router,
    key: &str,
    method: &str,
    path: &str,
    query: &str,
    b: Option<Value>,
) -> (u16, Value) {
    let (status, _, bytes) = call(router, key, method, path, query, b).await;
    (
        status,
        if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        },
    )
}

#[tokio::test]
async fn a_document_is_kept_in_s3_and_downloaded_through_the_api_function() {
    let rig = AwsRig::new("documents", at(MONDAY_1144_MSK)).await;
    rig.ports.blobs.ensure_bucket().await.unwrap_or_else(|e| {
        panic!("LocalStack must run with s3 in SERVICES (infra/localstack.sh): {e}")
    });
    let t = rig.tenant.clone();
    let key = format!("key-{t}");
    let router = crm_fn_api::app(
        std::sync::Arc::new(rig.engine.clone()),
        crm_http::ApiKeys::single(t.clone(), key.clone()),
    );
    for put in crm_core::testing::company() {
        let (status, resp) = json_call(&router, &key, "PUT", &put.path(), "", Some(put.body)).await;
        assert_eq!(status, 200, "{resp}");
    }
    let content =
        base64::engine::general_purpose::STANDARD.encode(crm_core::documents::sample::invoice());
    let (status, tpl) = json_call(
        &router,
        &key,
        "POST",
        "/v1/document-templates",
        "",
        Some(json!({"name": "Invoice", "content": content})),
    )
    .await;
    assert_eq!(status, 201, "{tpl}");
    let (status, num) = json_call(&router, &key, "POST", "/v1/numerators", "",
        Some(json!({"name": "Invoices", "template": "INV-{YYYY}-{NUMBER}", "padding": 4, "reset": "year"}))).await;
    assert_eq!(status, 201, "{num}");
    rig.engine
        .create_robot(
            &t,
            "deals",
            body(json!({"stage_id": "prep", "type": "create_document",
            "settings": {"template_id": tpl["id"], "numerator_id": num["id"]}})),
        )
        .await
        .unwrap();
    let item = rig
        .engine
        .create_item(&t, body(crm_core::testing::deal("prep", 25000.0)))
        .await
        .unwrap();
    // LocalStack's stream is asynchronous (like AWS's): settle until the
    // item's write has reached the stage-change step and the robot ran.
    let mut docs = serde_json::Value::Null;
    for _ in 0..60 {
        rig.settle().await;
        let (status, answer) = json_call(
            &router,
            &key,
            "GET",
            "/v1/documents",
            &format!("item_id={}", item.id),
            None,
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        docs = answer;
        if docs["documents"][0].is_object() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let doc = docs["documents"][0].clone();
    assert_eq!(doc["number"], "INV-2026-0001", "{docs:#}");
    let id = doc["id"].as_str().unwrap();
    assert!(
        !docs.to_string().contains("blob_key"),
        "the API does not show where files are kept: {docs}"
    );
    // The files are objects of the bucket, under the tenant's prefix.
    let stored = rig
        .engine
        .get_document(&t, doc["id"].as_str().unwrap())
        .await
        .unwrap();
    for f in &stored.files {
        let k = f.blob_key.as_str();
        assert!(k.starts_with(&format!("{t}/documents/")), "{k}");
        let obj = rig
            .ports
            .clients
            .s3
            .get_object()
            .bucket(rig.ports.blobs.bucket())
            .key(k)
            .send()
            .await
            .unwrap();
        assert_eq!(obj.content_length().unwrap_or_default() as u64, f.size);
    }
    let (status, ct, pdf) = call(
        &router,
        &key,
        "GET",
        &format!("/v1/documents/{id}/file"),
        "format=pdf",
        None,
    )
    .await;
    assert_eq!((status, ct.as_str()), (200, "application/pdf"));
    assert!(
        pdf.starts_with(b"%PDF-"),
        "binary through the Lambda response"
    );
    let text = pdf_text(&pdf);
    for want in ["INV-2026-0001", "25 000.00", "Romashka LLC"] {
        assert!(text.contains(want), "{want} in {text}");
    }
    let (status, _, docx) = call(
        &router,
        &key,
        "GET",
        &format!("/v1/documents/{id}/file"),
        "format=docx",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(docx.starts_with(b"PK"), "a zip package");
    rig.teardown().await;
}

fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (apt-get install poppler-utils)");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}
