//! [`BlobStore`] on S3: one object per blob, keyed `{tenant}/{path}`, in the
//! bucket `CRM_BLOB_BUCKET` (created by `infra/template.yaml` with
//! encryption and public access blocked). Against an emulator the client
//! uses path-style addressing.

use async_trait::async_trait;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::primitives::ByteStream;
use crm_core::blob_store::{BlobError, BlobKey, BlobStore};

use crate::config::Config;
use crate::error::AwsError;

/// Blobs in an S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Blobs {
    client: aws_sdk_s3::Client,
    bucket: String,
}

fn unavailable<E: std::error::Error + 'static>(op: &str, e: E) -> BlobError {
    BlobError::Unavailable(format!("S3 {op}: {}", DisplayErrorContext(e)))
}

impl S3Blobs {
    pub fn new(client: aws_sdk_s3::Client, bucket: String) -> Self {
        S3Blobs { client, bucket }
    }

    /// The S3 client of `sdk` (path-style against an emulator).
    pub fn client(sdk: &aws_config::SdkConfig, config: &Config) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(config.endpoint_url.is_some())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Create the bucket if it is missing (emulators and tests; on AWS the
    /// template creates it).
    pub async fn ensure_bucket(&self) -> Result<(), AwsError> {
        match self.client.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => return Ok(()),
            Err(e) => {
                tracing::debug!(bucket = %self.bucket, error = %DisplayErrorContext(&e), "head bucket")
            }
        }
        match self
            .client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.code(),
                    Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(AwsError::sdk("CreateBucket", e)),
        }
    }
}

impl S3Blobs {
    fn configured(&self) -> Result<(), BlobError> {
        if self.bucket.is_empty() {
            return Err(BlobError::Unavailable(
                "no bucket: CRM_BLOB_BUCKET is not set".into(),
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl BlobStore for S3Blobs {
    async fn put(
        &self,
        key: &BlobKey,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), BlobError> {
        self.configured()?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_string())
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| unavailable("PutObject", e))?;
        Ok(())
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<Vec<u8>>, BlobError> {
        self.configured()?;
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_string())
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(unavailable("GetObject", e)),
        };
        let data = out
            .body
            .collect()
            .await
            .map_err(|e| unavailable("GetObject body", e))?;
        Ok(Some(data.into_bytes().to_vec()))
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        self.configured()?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_string())
            .send()
            .await
            .map_err(|e| unavailable("DeleteObject", e))?;
        Ok(())
    }
}
