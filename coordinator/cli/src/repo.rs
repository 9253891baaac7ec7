//! Opening a snapshot repository from the `--repo` argument every repository command takes.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use ferry_snapshot::{FsBlobStore, Repository};

/// Where a repository lives.
#[derive(Args, Clone)]
pub struct RepoArgs {
    /// The repository: a directory (the `location` of an `fs` repository).
    #[arg(long)]
    pub repo: PathBuf,
}

impl RepoArgs {
    /// Opens the repository and reads its current repository data.
    pub fn open(&self) -> anyhow::Result<Repository> {
        let store = FsBlobStore::open(&self.repo)?;
        Ok(Repository::open(Arc::new(store))?)
    }

    /// The repository as the user named it, for messages.
    pub fn display(&self) -> String {
        self.repo.display().to_string()
    }
}
