//! [`BlobStore`] in the data directory: one file per blob under
//! `<data>/blobs/<tenant>/<path>`, files 0600 and directories 0700 (as the
//! database). A blob is written to a temporary file and renamed into place,
//! so a reader sees the old or the new file, never half of one. Like the
//! SQLite adapters, the calls do their (small, local) file I/O directly.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use crm_core::blob_store::{BlobError, BlobKey, BlobStore};

/// The folder of the blobs inside the data directory.
pub const BLOB_DIR: &str = "blobs";

/// Blobs as files under a directory.
pub struct DirBlobs {
    root: PathBuf,
    seq: AtomicU64,
}

fn unavailable(e: std::io::Error) -> BlobError {
    BlobError::Unavailable(e.to_string())
}

#[cfg(unix)]
fn private_dir(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

#[cfg(not(unix))]
fn private_dir(path: &Path) -> std::io::Result<()> {
    fs::create_dir_all(path)
}

#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

impl DirBlobs {
    /// Blobs under `<data_dir>/blobs` (created, 0700, with the first blob:
    /// a server that keeps no documents has no such folder).
    pub fn open(data_dir: &Path) -> Result<Self, BlobError> {
        Ok(DirBlobs {
            root: data_dir.join(BLOB_DIR),
            seq: AtomicU64::new(0),
        })
    }

    fn path(&self, key: &BlobKey) -> PathBuf {
        // Segments are checked by `BlobKey` (no `..`, no separators).
        let mut p = self.root.join(key.tenant());
        for seg in key.path().split('/') {
            p.push(seg);
        }
        p
    }
}

#[async_trait]
impl BlobStore for DirBlobs {
    async fn put(&self, key: &BlobKey, bytes: Vec<u8>, _ct: &str) -> Result<(), BlobError> {
        let path = self.path(key);
        let dir = path.parent().unwrap_or(&self.root);
        private_dir(dir).map_err(unavailable)?;
        let tmp = dir.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            self.seq.fetch_add(1, Ordering::Relaxed)
        ));
        let written = (|| {
            let mut f = private_file(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written.map_err(unavailable)
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<Vec<u8>>, BlobError> {
        match fs::read(self.path(key)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        match fs::remove_file(self.path(key)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }
}
