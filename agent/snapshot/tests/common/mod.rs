//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_snapshot::{FsBlobStore, Repository};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/snapshots").join(name)
}

pub fn open(root: &Path) -> ferry_snapshot::Result<Repository> {
    Repository::open(Arc::new(FsBlobStore::open(root)?))
}

/// A writable copy of a fixture repository.
pub fn copy(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture(name), dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::write(&target, std::fs::read(entry.path()).unwrap()).unwrap();
        }
    }
}

/// Frames `body` the way ChecksumBlobStoreFormat does: codec header (version 1), body, CRC32 footer.
pub fn frame(codec: &str, body: &[u8]) -> Vec<u8> {
    let mut out = 0x3fd7_6c17u32.to_be_bytes().to_vec();
    out.push(codec.len() as u8);
    out.extend_from_slice(codec.as_bytes());
    out.extend_from_slice(&1u32.to_be_bytes());
    out.extend_from_slice(body);
    with_footer(out)
}

/// Appends a Lucene footer with a fresh CRC.
pub fn with_footer(mut out: Vec<u8>) -> Vec<u8> {
    out.extend_from_slice(&(!0x3fd7_6c17u32).to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&u64::from(crc).to_be_bytes());
    out
}

/// The body of a framed blob (between header and footer).
pub fn body(blob: &[u8]) -> &[u8] {
    let name_len = blob[4] as usize;
    &blob[4 + 1 + name_len + 4..blob.len() - 16]
}
