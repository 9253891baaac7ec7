//! The `*.dat` framing Elasticsearch's `ChecksumBlobStoreFormat` writes around every metadata blob: a Lucene
//! codec header naming the blob kind, a body, and a CRC32 footer. The body is SMILE (or JSON), optionally
//! compressed: raw DEFLATE behind a `DFL\0` marker (Elasticsearch, OpenSearch's default), or a zstd stream
//! behind `ZSTD\0` (OpenSearch 2.10+ with `compression_type: zstd`).

use std::io::Read as _;

use ferry_lucene::codec::{verify_footer, FOOTER_LEN};
use ferry_lucene::{DataInput, FileBytes};

use crate::smile::{self, Value};
use crate::{BlobStore, Error, Result};

/// The only `ChecksumBlobStoreFormat` version Elasticsearch and OpenSearch have written.
const FORMAT_VERSION: i32 = 1;

/// Marker of Elasticsearch's `DeflateCompressor` (raw DEFLATE follows).
pub(crate) const DEFLATE_MARKER: &[u8; 4] = b"DFL\0";
/// Marker of OpenSearch's `ZstdCompressor` (one or more zstd frames follow).
pub(crate) const ZSTD_MARKER: &[u8; 5] = b"ZSTD\0";
const LZF_MARKER: &[u8; 2] = b"ZV";

/// Inflated bodies larger than this are refused: real metadata is at most tens of megabytes, and a bound
/// keeps a hostile blob from exhausting memory.
const MAX_INFLATED: u64 = 1 << 30;

/// Blob kinds, by the codec name in their header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlobKind {
    /// `snap-<uuid>.dat` at the root (SnapshotInfo) and per shard (BlobStoreIndexShardSnapshot).
    Snapshot,
    /// `meta-<uuid>.dat` at the root (global metadata).
    Metadata,
    /// `indices/<id>/meta-<key>.dat` (IndexMetadata).
    IndexMetadata,
    /// `indices/<id>/<shard>/index-<gen>` (BlobStoreIndexShardSnapshots).
    ShardSnapshots,
}

impl BlobKind {
    fn codec(self) -> &'static str {
        match self {
            BlobKind::Snapshot => "snapshot",
            BlobKind::Metadata => "metadata",
            BlobKind::IndexMetadata => "index-metadata",
            BlobKind::ShardSnapshots => "snapshots",
        }
    }
}

/// Reads and decodes the blob at `key`, checking its header, version and footer CRC first.
pub(crate) fn read(store: &dyn BlobStore, key: &str, kind: BlobKind) -> Result<Value> {
    let bytes = store.read(key)?;
    decode(&bytes, kind)
}

/// Decodes a whole `*.dat` blob already in memory; see [`read`].
pub(crate) fn decode(bytes: &FileBytes, kind: BlobKind) -> Result<Value> {
    let name = bytes.name();
    let mut input = DataInput::new(name, bytes);
    input.check_header(kind.codec(), FORMAT_VERSION, FORMAT_VERSION)?;
    verify_footer(bytes)?;
    let start = input.position();
    let end = bytes.len().checked_sub(FOOTER_LEN).filter(|&end| end >= start).ok_or_else(|| Error::Corrupt {
        file: name.to_owned(),
        offset: start as u64,
        expected: "a body between the codec header and footer".to_owned(),
        found: format!("{} bytes in all", bytes.len()),
    })?;
    let body = bytes.get(start..end).unwrap_or_default();
    decode_body(name, body, start as u64)
}

/// Decodes a body: optionally `DFL\0`-compressed, then SMILE or JSON.
pub(crate) fn decode_body(name: &str, body: &[u8], base: u64) -> Result<Value> {
    if let Some(compressed) = body.strip_prefix(DEFLATE_MARKER) {
        let inflated = inflate(name, compressed, base + DEFLATE_MARKER.len() as u64)?;
        return decode_content(&format!("{name} (inflated body)"), &inflated, 0);
    }
    if let Some(compressed) = body.strip_prefix(ZSTD_MARKER) {
        let decompressed = unzstd(name, compressed, base + ZSTD_MARKER.len() as u64)?;
        return decode_content(&format!("{name} (zstd body)"), &decompressed, 0);
    }
    if body.starts_with(LZF_MARKER) {
        return Err(Error::Unsupported {
            what: format!("{name}: LZF-compressed metadata (Elasticsearch 1.x)"),
            hint: "restore into Elasticsearch 5 or 6 and take a new snapshot".to_owned(),
        });
    }
    decode_content(name, body, base)
}

/// SMILE when it carries the SMILE signature, else JSON (Elasticsearch detects the content type the same
/// way when reading).
fn decode_content(name: &str, body: &[u8], base: u64) -> Result<Value> {
    if smile::has_header(body) {
        return smile::decode(name, body, base);
    }
    let json: serde_json::Value =
        serde_json::from_slice(body).map_err(|source| Error::Json { file: name.to_owned(), source })?;
    Ok(Value::from_json(&json))
}

/// Inflates raw DEFLATE (no zlib wrapper), as Elasticsearch's `DeflateCompressor` writes it.
pub(crate) fn inflate(name: &str, compressed: &[u8], base: u64) -> Result<Vec<u8>> {
    read_bounded(name, flate2::read::DeflateDecoder::new(compressed), base, "a raw DEFLATE stream after DFL\\0")
}

/// Decompresses the zstd stream OpenSearch's `ZstdCompressor` writes after `ZSTD\0`.
fn unzstd(name: &str, compressed: &[u8], base: u64) -> Result<Vec<u8>> {
    let decoder = zstd::stream::read::Decoder::with_buffer(compressed).map_err(|e| Error::Corrupt {
        file: name.to_owned(),
        offset: base,
        expected: "a zstd stream after ZSTD\\0".to_owned(),
        found: e.to_string(),
    })?;
    read_bounded(name, decoder, base, "a zstd stream after ZSTD\\0")
}

/// Reads a decompressor to the end, refusing output beyond [`MAX_INFLATED`].
fn read_bounded(name: &str, decoder: impl std::io::Read, base: u64, expected: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    decoder.take(MAX_INFLATED + 1).read_to_end(&mut out).map_err(|e| Error::Corrupt {
        file: name.to_owned(),
        offset: base,
        expected: expected.to_owned(),
        found: e.to_string(),
    })?;
    if out.len() as u64 > MAX_INFLATED {
        return Err(Error::Corrupt {
            file: name.to_owned(),
            offset: base,
            expected: format!("at most {MAX_INFLATED} inflated bytes"),
            found: "more".to_owned(),
        });
    }
    Ok(out)
}
