//! The blob-store contract on every adapter: in memory, the local server's
//! data directory (files 0600 under `<data>/blobs`), and S3 on LocalStack
//! (`AWS_ENDPOINT_URL`; LocalStack must run with `s3` in SERVICES, see
//! `infra/localstack.sh`; these tests fail, they do not skip, without it).

use crm_core::blob_store::{BlobKey, BlobStore};
use crm_core::memory_blobs::MemoryBlobs;
use crm_embedded::DirBlobs;
use crm_tests::blob_contract::run_all_blobs;
use crm_tests::contract::unique_tenant;

#[tokio::test]
async fn memory_blobs_pass_the_blob_contract() {
    run_all_blobs(&MemoryBlobs::new(), &unique_tenant("mem")).await;
}

#[tokio::test]
async fn dir_blobs_pass_the_blob_contract_and_keep_files_private() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = DirBlobs::open(dir.path()).unwrap();
    let tenant = unique_tenant("dir");
    run_all_blobs(&blobs, &tenant).await;
    // Files survive a reopen (another process, a restart).
    let again = DirBlobs::open(dir.path()).unwrap();
    let k = BlobKey::new(&tenant, "templates/dtp-1/v1.docx").unwrap();
    assert!(again.get(&k).await.unwrap().is_some());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let file = dir
            .path()
            .join("blobs")
            .join(&tenant)
            .join("templates/dtp-1/v1.docx");
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
        let d = std::fs::metadata(dir.path().join("blobs"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(d, 0o700);
    }
}

#[tokio::test]
async fn s3_blobs_pass_the_blob_contract() {
    let p = crm_aws::testing::isolated_ports("contract-blobs")
        .await
        .unwrap_or_else(|e| {
            panic!("the S3 contract test needs LocalStack with s3 (infra/localstack.sh start): {e}")
        });
    p.blobs.ensure_bucket().await.unwrap_or_else(|e| {
        panic!("LocalStack must run with s3 in SERVICES (infra/localstack.sh): {e}")
    });
    run_all_blobs(&*p.blobs, &unique_tenant("s3")).await;
    crm_aws::testing::teardown(&p).await.expect("teardown");
}
