//! The blob-store contract: what every [`BlobStore`] adapter must do (memory,
//! the data directory, S3 on LocalStack). `run_all_blobs` runs every check.

use crm_core::blob_store::{BlobKey, BlobStore};

fn key(tenant: &str, path: &str) -> BlobKey {
    BlobKey::new(tenant, path).expect("a valid key")
}

/// Every check of the contract.
pub async fn run_all_blobs(blobs: &dyn BlobStore, tenant: &str) {
    blobs_round_trip(blobs, tenant).await;
    blobs_put_replaces(blobs, tenant).await;
    blobs_missing_is_none(blobs, tenant).await;
    blobs_delete(blobs, tenant).await;
    blobs_tenant_isolation(blobs, tenant).await;
    blobs_binary_and_large(blobs, tenant).await;
}

/// `put` then `get` gives the same bytes, at nested paths too.
pub async fn blobs_round_trip(blobs: &dyn BlobStore, tenant: &str) {
    let k = key(tenant, "templates/dtp-1/v1.docx");
    blobs
        .put(
            &k,
            b"PK\x03\x04 template".to_vec(),
            "application/octet-stream",
        )
        .await
        .unwrap();
    assert_eq!(
        blobs.get(&k).await.unwrap().as_deref(),
        Some(&b"PK\x03\x04 template"[..])
    );
    let k2 = key(tenant, "documents/run-a_b.pdf");
    blobs
        .put(&k2, b"%PDF-1.7".to_vec(), "application/pdf")
        .await
        .unwrap();
    assert_eq!(
        blobs.get(&k2).await.unwrap().as_deref(),
        Some(&b"%PDF-1.7"[..])
    );
    assert_eq!(
        blobs.get(&k).await.unwrap().as_deref(),
        Some(&b"PK\x03\x04 template"[..])
    );
}

/// A second `put` on a key replaces the bytes (a retried writer is idempotent).
pub async fn blobs_put_replaces(blobs: &dyn BlobStore, tenant: &str) {
    let k = key(tenant, "documents/replaced.docx");
    blobs
        .put(&k, b"first attempt, longer".to_vec(), "x/y")
        .await
        .unwrap();
    blobs.put(&k, b"retry".to_vec(), "x/y").await.unwrap();
    assert_eq!(blobs.get(&k).await.unwrap().as_deref(), Some(&b"retry"[..]));
}

/// An unknown key reads as `None` (not an error).
pub async fn blobs_missing_is_none(blobs: &dyn BlobStore, tenant: &str) {
    assert_eq!(
        blobs
            .get(&key(tenant, "documents/never-written.pdf"))
            .await
            .unwrap(),
        None
    );
}

/// `delete` removes the blob; deleting an unknown key is fine.
pub async fn blobs_delete(blobs: &dyn BlobStore, tenant: &str) {
    let k = key(tenant, "templates/gone/v1.docx");
    blobs.put(&k, b"x".to_vec(), "x/y").await.unwrap();
    blobs.delete(&k).await.unwrap();
    assert_eq!(blobs.get(&k).await.unwrap(), None);
    blobs.delete(&k).await.unwrap();
    blobs.delete(&key(tenant, "never/was.bin")).await.unwrap();
}

/// The same path under two tenants is two blobs.
pub async fn blobs_tenant_isolation(blobs: &dyn BlobStore, tenant: &str) {
    let other = format!("{tenant}-other");
    let (a, b) = (
        key(tenant, "templates/same/v1.docx"),
        key(&other, "templates/same/v1.docx"),
    );
    blobs.put(&a, b"mine".to_vec(), "x/y").await.unwrap();
    assert_eq!(
        blobs.get(&b).await.unwrap(),
        None,
        "another tenant sees nothing"
    );
    blobs.put(&b, b"theirs".to_vec(), "x/y").await.unwrap();
    assert_eq!(blobs.get(&a).await.unwrap().as_deref(), Some(&b"mine"[..]));
    blobs.delete(&b).await.unwrap();
    assert_eq!(blobs.get(&a).await.unwrap().as_deref(), Some(&b"mine"[..]));
}

/// Every byte value survives, and a file of a template's size limit (2 MiB).
pub async fn blobs_binary_and_large(blobs: &dyn BlobStore, tenant: &str) {
    let data: Vec<u8> = (0..2 * 1024 * 1024)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let k = key(tenant, "templates/big/v1.docx");
    blobs
        .put(&k, data.clone(), "application/octet-stream")
        .await
        .unwrap();
    let got = blobs.get(&k).await.unwrap().expect("stored");
    assert_eq!(got.len(), data.len());
    assert!(got == data, "the bytes come back unchanged");
}
