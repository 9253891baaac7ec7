//! Opening a snapshot repository from the `--repo` argument every repository command takes: a directory, or
//! `s3://bucket/prefix` read through a local cache.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use ferry_client::ClusterConfig;
use ferry_snapshot::{BlobStore, FsBlobStore, Repository};
use ferry_snapshot_s3::{S3BlobStore, S3Location, S3Options};

use crate::cluster::LiveSourceArgs;

/// Where a repository lives.
#[derive(Args, Clone)]
pub struct RepoArgs {
    /// The repository: a directory (the `location` of an `fs` repository), or `s3://bucket/prefix` (the
    /// `bucket` and `base_path` of an `s3` repository; credentials from the standard AWS chain).
    #[arg(long)]
    pub repo: String,
    /// S3 region (default: the AWS configuration's, else us-east-1).
    #[arg(long, value_name = "REGION")]
    pub s3_region: Option<String>,
    /// S3 endpoint URL for S3-compatible stores such as MinIO (uses path-style requests).
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// Where S3 blobs are cached locally (default: $XDG_CACHE_HOME/ferry/s3 or ~/.cache/ferry/s3).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// The most the S3 cache may hold, e.g. 500M, 20G; shards not being read are evicted to stay below it.
    #[arg(long, value_name = "SIZE", default_value = "20G", value_parser = parse_size)]
    pub cache_size: u64,
}

impl RepoArgs {
    /// Opens the repository and reads its current repository data.
    pub fn open(&self) -> anyhow::Result<Repository> {
        let store: Arc<dyn BlobStore> = match S3Location::parse(&self.repo) {
            Some(location) => {
                let mut options = S3Options::new(self.cache_dir()?, self.cache_size);
                options.region.clone_from(&self.s3_region);
                options.endpoint.clone_from(&self.s3_endpoint);
                Arc::new(S3BlobStore::open(location, options)?)
            }
            None if self.repo.starts_with("s3:") => {
                anyhow::bail!("{:?} is not an S3 repository URL; expected s3://bucket[/prefix]", self.repo)
            }
            None => Arc::new(FsBlobStore::open(&self.repo)?),
        };
        Ok(Repository::open(store)?)
    }

    /// The repository as the user named it, for messages.
    pub fn display(&self) -> String {
        self.repo.clone()
    }

    fn cache_dir(&self) -> anyhow::Result<PathBuf> {
        if let Some(dir) = &self.cache_dir {
            return Ok(dir.clone());
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
            .context("no cache directory: pass --cache-dir (neither XDG_CACHE_HOME nor HOME is set)")?;
        Ok(base.join("ferry").join("s3"))
    }
}

/// Where metadata or documents come from: a snapshot in a repository, or a live cluster. Shared by the
/// commands that read either (`metadata`, `compare`).
#[derive(Args)]
pub struct SourceArgs {
    #[command(flatten)]
    repo: Option<RepoArgs>,
    /// The snapshot to read (with --repo).
    #[arg(long, requires = "repo")]
    snapshot: Option<String>,
    #[command(flatten)]
    live: LiveSourceArgs,
}

/// A resolved [`SourceArgs`].
pub enum Source<'a> {
    /// A snapshot in a repository.
    Snapshot {
        /// The repository.
        repo: &'a RepoArgs,
        /// The snapshot name.
        snapshot: &'a str,
    },
    /// A live cluster, read through its APIs.
    Cluster {
        /// How to reach it.
        config: ClusterConfig,
    },
}

impl SourceArgs {
    /// Which source the arguments name, or an error saying what to give.
    pub fn resolve(&self) -> anyhow::Result<Source<'_>> {
        match (&self.repo, &self.snapshot, self.live.config()?) {
            (Some(repo), Some(snapshot), None) => Ok(Source::Snapshot { repo, snapshot }),
            (None, None, Some(config)) => Ok(Source::Cluster { config }),
            (Some(_), None, None) => anyhow::bail!("--repo needs --snapshot"),
            _ => anyhow::bail!("give a source: --repo DIR|s3://… --snapshot NAME, or --source URL"),
        }
    }
}

/// Parses a byte size: a number with an optional K, M, G or T suffix (powers of 1024), e.g. `512M`.
fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, shift) = match text.char_indices().last() {
        Some((at, unit)) if unit.is_ascii_alphabetic() => {
            let shift = match unit.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                other => return Err(format!("unknown size unit {other:?}; use K, M, G or T")),
            };
            (text.get(..at).unwrap_or_default(), shift)
        }
        _ => (text, 0),
    };
    let number: u64 = digits.trim().parse().map_err(|_| format!("{text:?} is not a size such as 500M or 20G"))?;
    number.checked_mul(1u64 << shift).ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("4k"), Ok(4096));
        assert_eq!(parse_size("20G"), Ok(20 << 30));
        assert!(parse_size("3X").is_err());
        assert!(parse_size("G").is_err());
        assert!(parse_size("99999999999T").is_err());
    }
}
