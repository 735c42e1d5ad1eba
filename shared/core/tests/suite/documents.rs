//! Documents in the engine (in-memory ports, manual clock): numbering
//! across a year boundary, a run that fails takes no number, and a retried
//! run overwrites its own files.

use chrono::Duration;
use crm_core::documents::{FileFormat, NumeratorBody, sample};
use crm_core::memory::MemRuntime;
use crm_core::testing::{TENANT, at, body, deal, load, settled_item};
use serde_json::json;

async fn runtime(start: &str) -> (MemRuntime, String) {
    let rt = MemRuntime::new(at(start));
    load(&rt.engine, TENANT).await.unwrap();
    let t = rt
        .engine
        .create_template(TENANT, "Act", "act.docx", sample::invoice())
        .await
        .unwrap();
    let n = rt
        .engine
        .create_numerator(
            TENANT,
            body::<NumeratorBody>(json!({"name": "Acts", "template": "A-{YY}{MM}-{NUMBER}",
                "start": 7, "step": 2, "padding": 2, "reset": "year"})),
        )
        .await
        .unwrap();
    rt.engine
        .create_robot(
            TENANT,
            "deals",
            body(json!({"stage_id": "prep", "type": "create_document",
                "settings": {"template_id": t.id, "numerator_id": n.id, "formats": ["docx"]}})),
        )
        .await
        .unwrap();
    (rt, t.id)
}

async fn number_of(rt: &MemRuntime, item: &str) -> String {
    let docs = rt
        .engine
        .list_documents(TENANT, item, None, None)
        .await
        .unwrap()
        .records;
    assert_eq!(docs.len(), 1, "{docs:#?}");
    docs[0].number.clone().unwrap()
}

async fn docx_text(rt: &MemRuntime, item: &str) -> String {
    let doc = rt
        .engine
        .list_documents(TENANT, item, None, None)
        .await
        .unwrap()
        .records[0]
        .clone();
    let (_, bytes) = rt
        .engine
        .document_file(TENANT, &doc.id, FileFormat::Docx)
        .await
        .unwrap();
    crm_core::documents::docx::paragraphs(&bytes)
        .unwrap()
        .iter()
        .map(|p| format!("{p:?}"))
        .collect()
}

/// A deal of `u-utc`, a user in UTC, in `prep`.
fn utc_deal(amount: f64) -> serde_json::Value {
    let mut d = deal("prep", amount);
    d["responsible_id"] = json!("u-utc");
    d
}

#[tokio::test]
async fn numbers_step_pad_and_start_again_in_the_responsibles_new_year() {
    // 20:58 UTC = 23:58 in Moscow, the zone of the seeds' responsible.
    let (rt, _) = runtime("2026-12-31T20:58:00Z").await;
    rt.engine
        .put_user(
            TENANT,
            "u-utc",
            body(json!({"name": "Uma Utc", "time_zone": "UTC"})),
        )
        .await
        .unwrap();
    let a = settled_item(&rt, deal("prep", 1.0)).await;
    let b = settled_item(&rt, deal("prep", 2.0)).await;
    assert_eq!(number_of(&rt, &a.id).await, "A-2612-07");
    assert_eq!(number_of(&rt, &b.id).await, "A-2612-09");
    assert!(docx_text(&rt, &a.id).await.contains("31.12.2026"));
    // 21:03 UTC: already 1 January in Moscow, still 31 December in UTC.
    rt.advance(Duration::minutes(5)).await.unwrap();
    let c = settled_item(&rt, deal("prep", 3.0)).await;
    assert_eq!(
        number_of(&rt, &c.id).await,
        "A-2701-07",
        "reset on 1 January, Moscow time"
    );
    let text = docx_text(&rt, &c.id).await;
    assert!(
        text.contains("01.01.2027") && !text.contains("31.12.2026"),
        "{text}"
    );
    let d = settled_item(&rt, deal("prep", 4.0)).await;
    assert_eq!(number_of(&rt, &d.id).await, "A-2701-09");
    // A responsible in UTC: still 2026 for them. The rule has one counter
    // and its period does not go back: the number goes on (no repeat of
    // A-2612-07), dated December.
    let e = settled_item(&rt, utc_deal(5.0)).await;
    assert_eq!(number_of(&rt, &e.id).await, "A-2612-11");
    assert!(docx_text(&rt, &e.id).await.contains("31.12.2026"));
}

#[tokio::test]
async fn a_failed_run_takes_no_number_and_the_files_are_blobs_of_the_tenant() {
    let (rt, template) = runtime("2026-03-02T09:00:00Z").await;
    let a = settled_item(&rt, deal("prep", 1.0)).await;
    assert_eq!(number_of(&rt, &a.id).await, "A-2603-07");
    let blobs_before = rt.blobs.len();
    rt.engine.delete_template(TENANT, &template).await.unwrap();
    assert_eq!(
        rt.blobs.len(),
        blobs_before - 1,
        "the template's file is deleted"
    );
    let failed = settled_item(&rt, deal("prep", 2.0)).await;
    let runs = rt.engine.runs(TENANT, &failed.id).await.unwrap();
    let run = runs
        .iter()
        .find(|r| {
            r.robot
                .as_ref()
                .is_some_and(|x| x.action.type_name() == "create_document")
        })
        .unwrap();
    assert_eq!(run.status, crm_core::model::RunStatus::Failed);
    assert!(
        run.reason.as_deref().unwrap().contains("not found"),
        "{run:?}"
    );
    assert!(
        rt.engine
            .list_documents(TENANT, &failed.id, None, None)
            .await
            .unwrap()
            .records
            .is_empty()
    );
    assert_eq!(
        rt.blobs.len(),
        blobs_before - 1,
        "no file was written for the failed run"
    );
    // The document of the first run is readable, with its file.
    let doc = rt
        .engine
        .list_documents(TENANT, &a.id, None, None)
        .await
        .unwrap()
        .records[0]
        .clone();
    let (_, bytes) = rt
        .engine
        .document_file(TENANT, &doc.id, FileFormat::Docx)
        .await
        .unwrap();
    assert!(bytes.starts_with(b"PK"));
    assert!(
        rt.engine
            .document_file(TENANT, &doc.id, FileFormat::Pdf)
            .await
            .is_err(),
        "not made as PDF"
    );
    assert!(
        rt.engine.get_document("globex", &doc.id).await.is_err(),
        "another tenant: not found"
    );
}

#[tokio::test]
async fn a_template_with_too_many_different_placeholders_is_refused() {
    let rt = MemRuntime::new(at("2026-03-02T09:00:00Z"));
    let text: String = (0..201).map(|i| format!("{{Field:f{i}}} ")).collect();
    let file = sample::docx(&sample::paragraph(&[sample::run(&text, false, false)]));
    let err = rt
        .engine
        .create_template(TENANT, "Many", "many.docx", file)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("content: 201 different placeholders; at most 200"),
        "{err}"
    );
    assert!(rt.blobs.is_empty(), "nothing stored");
}
