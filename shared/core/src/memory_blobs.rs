//! In-memory [`BlobStore`] for tests and the memory home.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::blob_store::{BlobError, BlobKey, BlobStore};

/// Blobs in a map.
#[derive(Default)]
pub struct MemoryBlobs {
    blobs: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemoryBlobs {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many blobs are stored (for tests).
    pub fn len(&self) -> usize {
        self.blobs.lock().expect("blob map lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl BlobStore for MemoryBlobs {
    async fn put(&self, key: &BlobKey, bytes: Vec<u8>, _ct: &str) -> Result<(), BlobError> {
        self.blobs
            .lock()
            .expect("blob map lock")
            .insert(key.as_string(), bytes);
        Ok(())
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<Vec<u8>>, BlobError> {
        Ok(self
            .blobs
            .lock()
            .expect("blob map lock")
            .get(&key.as_string())
            .cloned())
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        self.blobs
            .lock()
            .expect("blob map lock")
            .remove(&key.as_string());
        Ok(())
    }
}
