//! Where a repository lives in S3 and how to reach and cache it.

use std::path::PathBuf;
use std::time::Duration;

/// A repository location: the bucket and the key prefix (Elasticsearch's `base_path`) under which the
/// repository's `index-N`, `indices/` … live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    /// The bucket name.
    pub bucket: String,
    /// The key prefix without leading or trailing `/`; empty for a repository at the bucket root.
    pub prefix: String,
}

impl S3Location {
    /// Parses `s3://bucket[/prefix]`; `None` when `url` is not an `s3://` URL with a bucket.
    pub fn parse(url: &str) -> Option<S3Location> {
        let rest = url.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return None;
        }
        Some(S3Location { bucket: bucket.to_owned(), prefix: prefix.trim_matches('/').to_owned() })
    }

    /// The object key of repository key `key` (relative to the repository root). A key starting with `/`
    /// is already relative to the bucket root (OpenSearch's hashed shard paths can lie outside the prefix).
    pub(crate) fn object_key(&self, key: &str) -> String {
        if let Some(absolute) = key.strip_prefix('/') {
            absolute.to_owned()
        } else if self.prefix.is_empty() {
            key.to_owned()
        } else if key.is_empty() {
            self.prefix.clone()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

/// How to reach the store and how to cache and fetch its blobs. Credentials are not here: they come from
/// the standard AWS chain (environment, profile, web identity, container or instance metadata).
#[derive(Debug, Clone)]
pub struct S3Options {
    /// The region; when `None`, the AWS chain decides (`AWS_REGION`, profile), else `us-east-1`.
    pub region: Option<String>,
    /// An endpoint override for S3-compatible stores (`http://127.0.0.1:9000`); implies path-style URLs.
    pub endpoint: Option<String>,
    /// The local cache directory; blobs are kept under `<cache_dir>/<bucket>/<key>`.
    pub cache_dir: PathBuf,
    /// The most bytes the cache may hold; whole shards nobody is reading are evicted, least recently used
    /// first, to make room.
    pub cache_size: u64,
    /// Blobs larger than this are fetched as parallel ranged GETs of this size.
    pub part_size: u64,
    /// How many part downloads may run at once.
    pub concurrency: usize,
    /// Attempts per request (the first try included) before an error is final.
    pub max_attempts: u32,
    /// The first retry waits up to this long; each further retry doubles it (with full jitter).
    pub base_delay: Duration,
    /// A response body that stalls this long is treated as a broken connection.
    pub stall_timeout: Duration,
}

impl S3Options {
    /// Defaults suited to snapshot blobs: 8 MiB parts, 8 at a time, 6 attempts starting at 200 ms.
    pub fn new(cache_dir: impl Into<PathBuf>, cache_size: u64) -> Self {
        S3Options {
            region: None,
            endpoint: None,
            cache_dir: cache_dir.into(),
            cache_size,
            part_size: 8 << 20,
            concurrency: 8,
            max_attempts: 6,
            base_delay: Duration::from_millis(200),
            stall_timeout: Duration::from_secs(60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bucket_and_prefix() {
        let loc = S3Location::parse("s3://snaps/prod/es7/").unwrap();
        assert_eq!((loc.bucket.as_str(), loc.prefix.as_str()), ("snaps", "prod/es7"));
        assert_eq!(loc.object_key("index-3"), "prod/es7/index-3");
        assert_eq!(loc.object_key("/abc/prod/es7/indices/x/0"), "abc/prod/es7/indices/x/0");
        assert_eq!(loc.to_string(), "s3://snaps/prod/es7");
        let root = S3Location::parse("s3://snaps").unwrap();
        assert_eq!(root.object_key("index-3"), "index-3");
        assert!(S3Location::parse("s3:///x").is_none());
        assert!(S3Location::parse("/var/snapshots").is_none());
    }
}
