//! [`S3BlobStore`]: the blob store over S3, with downloads into the local cache.

use std::collections::HashMap;
use std::fs::File;
use std::future::Future;
use std::io;
use std::os::unix::fs::FileExt as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Region};
use aws_sdk_s3::Client;
use ferry_lucene::FileBytes;
use ferry_snapshot::{BlobHold, BlobStore, Error, Result};

use crate::cache::{group_of, Cache};
use crate::retry::{Failure, MAX_DELAY};
use crate::{S3Location, S3Options};
use ferry_ops::RetryPolicy;

/// Blobs that are rewritten in place, so never cached.
const MUTABLE_KEYS: &[&str] = &["index.latest"];

/// Counters of what the store did, for logs and tests.
#[derive(Debug, Default)]
pub struct S3Stats {
    /// HTTP requests sent (attempts, retries included).
    pub requests: AtomicU64,
    /// Attempts that failed transiently and were retried.
    pub retries: AtomicU64,
    /// Body bytes received.
    pub bytes_downloaded: AtomicU64,
    /// Blobs served from the cache without a request.
    pub cache_hits: AtomicU64,
}

/// A snapshot repository in S3 (`s3://bucket/prefix`), read through a local cache.
pub struct S3BlobStore {
    inner: Arc<Inner>,
    /// `Option` only so that `Drop` can shut it down without blocking, wherever the store is dropped.
    runtime: Option<tokio::runtime::Runtime>,
}

struct Inner {
    client: Client,
    location: S3Location,
    options: S3Options,
    cache: Arc<Cache>,
    stats: S3Stats,
    /// One lock per key being downloaded, so concurrent readers of a blob download it once.
    in_flight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for S3BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Deliberately no client or configuration: nothing that could carry credentials.
        f.debug_struct("S3BlobStore").field("location", &self.inner.location.to_string()).finish()
    }
}

impl Drop for S3BlobStore {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl S3BlobStore {
    /// Connects to the repository at `location`: loads the AWS configuration and credentials chain and opens
    /// the cache. Nothing is requested from S3 yet.
    pub fn open(location: S3Location, options: S3Options) -> Result<S3BlobStore> {
        let describe = location.to_string();
        let store_error = |source: io::Error| Error::Store { store: describe.clone(), key: String::new(), source };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("ferry-s3")
            .enable_all()
            .build()
            .map_err(store_error)?;
        let cache_root = options.cache_dir.join(&location.bucket);
        let cache = Arc::new(Cache::open(cache_root, options.cache_size).map_err(store_error)?);
        let client = runtime.block_on(client(&options));
        tracing::debug!(location = describe.as_str(), endpoint = ?options.endpoint, "S3 repository opened");
        let inner = Inner {
            client,
            location,
            options,
            cache,
            stats: S3Stats::default(),
            in_flight: Mutex::new(HashMap::new()),
        };
        Ok(S3BlobStore { inner: Arc::new(inner), runtime: Some(runtime) })
    }

    /// What the store has done so far.
    pub fn stats(&self) -> &S3Stats {
        &self.inner.stats
    }

    /// Runs `future` on the store's runtime and waits for it. Spawning (rather than `block_on`) keeps this
    /// usable from threads that are themselves inside another tokio runtime.
    fn run<T: Send + 'static>(&self, key: &str, future: impl Future<Output = Result<T>> + Send + 'static) -> Result<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let runtime = self.runtime.as_ref().ok_or_else(|| self.inner.error(key, io::Error::other("store closed")))?;
        runtime.spawn(async move {
            // The receiver only disappears when the caller is gone; nothing is left to tell.
            let _ = tx.send(future.await);
        });
        rx.recv().map_err(|_| self.inner.error(key, io::Error::other("the S3 task ended without an answer")))?
    }
}

async fn client(options: &S3Options) -> Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = &options.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let shared = loader.load().await;
    // Retries are ours (they must also cover bodies cut mid-stream), so the SDK's are off.
    let mut builder = aws_sdk_s3::config::Builder::from(&shared).retry_config(RetryConfig::disabled()).timeout_config(
        TimeoutConfig::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .read_timeout(options.stall_timeout)
            .build(),
    );
    if shared.region().is_none() {
        builder = builder.region(Region::new("us-east-1"));
    }
    if let Some(endpoint) = &options.endpoint {
        builder = builder.endpoint_url(endpoint.clone()).force_path_style(true);
    }
    Client::from_conf(builder.build())
}

/// Refuses keys that could step outside the cache directory: they come from untrusted repository metadata.
fn check_key(key: &str) -> io::Result<()> {
    let body = key.strip_prefix('/').unwrap_or(key);
    let safe = !body.starts_with('/')
        && !key.contains('\\')
        && !key.contains('\0')
        && body.split('/').all(|part| part != ".." && part != ".");
    if safe {
        Ok(())
    } else {
        Err(io::Error::new(io::ErrorKind::InvalidInput, "key escapes the repository root"))
    }
}

impl Inner {
    fn describe(&self) -> String {
        self.location.to_string()
    }

    fn error(&self, key: &str, source: io::Error) -> Error {
        Error::Store { store: self.describe(), key: key.to_owned(), source }
    }

    /// Adds bucket and object key to an S3 failure message.
    fn failure_error(&self, object_key: &str, failure: Failure) -> io::Error {
        let Failure { error, .. } = failure;
        io::Error::new(error.kind(), format!("s3://{}/{object_key}: {error}", self.location.bucket))
    }

    /// Runs `attempt` until it succeeds, fails for good, or runs out of attempts, sleeping with backoff.
    async fn with_retries<T, F, Fut>(&self, object_key: &str, what: &str, mut attempt: F) -> io::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, Failure>>,
    {
        let mut retry = 0;
        loop {
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            match attempt().await {
                Ok(value) => return Ok(value),
                Err(failure) if failure.retryable && retry + 1 < self.options.max_attempts => {
                    let policy = RetryPolicy {
                        max_attempts: self.options.max_attempts,
                        base: self.options.base_delay,
                        max: MAX_DELAY,
                    };
                    let delay = policy.delay(retry + 1);
                    tracing::debug!(
                        bucket = self.location.bucket.as_str(),
                        key = object_key,
                        what,
                        retry,
                        ?delay,
                        error = %failure.error,
                        "retrying"
                    );
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(delay).await;
                    retry += 1;
                }
                Err(failure) => return Err(self.failure_error(object_key, failure)),
            }
        }
    }

    /// One ranged GET (`range` inclusive; `None` for the whole object), its body written at `file_offset`
    /// of `file` when given, else returned. Returns the object's total length, its ETag and the body.
    async fn get(
        &self,
        object_key: &str,
        range: Option<(u64, u64)>,
        if_match: Option<&str>,
        sink: Option<(&File, u64)>,
    ) -> std::result::Result<(u64, Option<String>, Vec<u8>), Failure> {
        let mut request = self.client.get_object().bucket(&self.location.bucket).key(object_key);
        if let Some((first, last)) = range {
            request = request.range(format!("bytes={first}-{last}"));
        }
        if let Some(etag) = if_match {
            request = request.if_match(etag);
        }
        let mut output = request.send().await.map_err(Failure::from_sdk)?;
        let content_length = output.content_length().and_then(|l| u64::try_from(l).ok());
        let total = match output.content_range() {
            Some(content_range) => content_range
                .rsplit_once('/')
                .and_then(|(_, total)| total.parse::<u64>().ok())
                .ok_or_else(|| Failure::transient(format!("unparseable Content-Range {content_range:?}")))?,
            None => content_length.unwrap_or(0),
        };
        let etag = output.e_tag().map(str::to_owned);
        let mut body = Vec::new();
        let mut written = 0u64;
        loop {
            let chunk = tokio::time::timeout(self.options.stall_timeout, output.body.next())
                .await
                .map_err(|_| Failure::transient(format!("no data for {:?}", self.options.stall_timeout)))?;
            let Some(chunk) = chunk else { break };
            let chunk = chunk.map_err(|e| Failure::transient(format!("connection broken mid-body: {e}")))?;
            self.stats.bytes_downloaded.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            match sink {
                // Page-cache writes are short; blocking this runtime's worker briefly is acceptable.
                Some((file, offset)) => {
                    let at = offset
                        .checked_add(written)
                        .ok_or_else(|| Failure::fatal(io::ErrorKind::InvalidData, "offset overflow".to_owned()))?;
                    file.write_all_at(&chunk, at)
                        .map_err(|e| Failure::fatal(e.kind(), format!("writing the cache file: {e}")))?;
                }
                None => body.extend_from_slice(&chunk),
            }
            written = written.saturating_add(chunk.len() as u64);
        }
        if let Some(expected) = content_length.filter(|&expected| expected != written) {
            return Err(Failure::transient(format!("body cut short: {written} of {expected} bytes")));
        }
        if let Some((first, last)) = range.filter(|_| total > 0) {
            let wanted = last.min(total - 1).saturating_sub(first).saturating_add(1);
            if written != wanted {
                return Err(Failure::fatal(
                    io::ErrorKind::InvalidData,
                    format!("asked for bytes {first}-{last} of {total}, received {written} bytes"),
                ));
            }
        }
        Ok((total, etag, body))
    }

    /// Downloads `object_key` into `dest` (through a temporary file, fsynced, then renamed), in parallel
    /// ranged parts when it is larger than one part. Returns the size.
    async fn download(self: &Arc<Self>, object_key: &str, dest: &Path) -> io::Result<u64> {
        let part = self.options.part_size.max(1);
        let group = group_of(object_key);
        // The first part tells the total size, and is the whole blob for most metadata and small files.
        let first =
            self.with_retries(object_key, "first part", || self.get(object_key, Some((0, part - 1)), None, None)).await;
        let (total, etag, head) = match first {
            Ok(found) => found,
            // An empty object cannot satisfy any range.
            Err(e) if e.to_string().contains("InvalidRange") => {
                self.with_retries(object_key, "whole object", || self.get(object_key, None, None, None)).await?
            }
            Err(e) => return Err(e),
        };
        self.cache.reserve(group, total)?;
        let result = self.write_parts(object_key, dest, total, etag, head).await;
        if result.is_err() {
            self.cache.release(group, total);
        }
        result.map(|()| total)
    }

    async fn write_parts(
        self: &Arc<Self>,
        object_key: &str,
        dest: &Path,
        total: u64,
        etag: Option<String>,
        head: Vec<u8>,
    ) -> io::Result<()> {
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let partial = self.cache.partial_path(dest);
        let file = Arc::new(File::create(&partial)?);
        let outcome = async {
            file.set_len(total)?;
            file.write_all_at(&head, 0)?;
            let part = self.options.part_size.max(1);
            let semaphore = Arc::new(tokio::sync::Semaphore::new(self.options.concurrency.max(1)));
            let mut tasks = tokio::task::JoinSet::new();
            let mut offset = head.len() as u64;
            while offset < total {
                let last = offset.saturating_add(part - 1).min(total - 1);
                let (this, file, semaphore, key, etag) =
                    (Arc::clone(self), Arc::clone(&file), Arc::clone(&semaphore), object_key.to_owned(), etag.clone());
                tasks.spawn(async move {
                    let _permit = semaphore.acquire_owned().await.map_err(io::Error::other)?;
                    let (_, _, _) = this
                        .with_retries(&key, "part", || {
                            this.get(&key, Some((offset, last)), etag.as_deref(), Some((&file, offset)))
                        })
                        .await?;
                    io::Result::Ok(())
                });
                offset = last + 1;
            }
            while let Some(joined) = tasks.join_next().await {
                joined.map_err(io::Error::other)??;
            }
            file.sync_all()?;
            std::fs::rename(&partial, dest)
        }
        .await;
        if outcome.is_err() {
            // Best effort: a leftover partial file is also deleted when the cache next opens.
            let _ = std::fs::remove_file(&partial);
        }
        outcome
    }

    /// The blob at repository key `key`, from the cache or downloaded into it.
    async fn read(self: Arc<Self>, key: String) -> Result<FileBytes> {
        check_key(&key).map_err(|e| self.error(&key, e))?;
        let object_key = self.location.object_key(&key);
        if MUTABLE_KEYS.contains(&key.as_str()) {
            let (_, _, body) = self
                .with_retries(&object_key, "get", || self.get(&object_key, None, None, None))
                .await
                .map_err(|e| self.error(&key, e))?;
            return Ok(FileBytes::from_vec(key.as_str(), body));
        }
        let path = self.cache.path(&object_key);
        let lock = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            Arc::clone(in_flight.entry(object_key.clone()).or_default())
        };
        let guard = lock.lock().await;
        let fetched = if path.is_file() {
            self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
            Ok(())
        } else {
            tracing::debug!(bucket = self.location.bucket.as_str(), key = object_key.as_str(), "downloading");
            self.download(&object_key, &path).await.map(|size| tracing::debug!(size, "downloaded"))
        };
        drop(guard);
        self.in_flight.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&object_key);
        fetched.map_err(|e| self.error(&key, e))?;
        self.cache.touch(group_of(&object_key));
        Ok(ferry_lucene::map_file(&path, &key)?)
    }

    async fn list(self: Arc<Self>, prefix: String) -> Result<Vec<String>> {
        check_key(&prefix).map_err(|e| self.error(&prefix, e))?;
        let mut object_prefix = self.location.object_key(&prefix);
        if !object_prefix.is_empty() {
            object_prefix.push('/');
        }
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .with_retries(&object_prefix, "list", || {
                    let request = self
                        .client
                        .list_objects_v2()
                        .bucket(&self.location.bucket)
                        .prefix(&object_prefix)
                        .delimiter("/")
                        .set_continuation_token(token.clone());
                    async move { request.send().await.map_err(Failure::from_sdk) }
                })
                .await
                .map_err(|e| self.error(&prefix, e))?;
            names.extend(
                page.contents()
                    .iter()
                    .filter_map(|object| object.key()?.strip_prefix(&object_prefix))
                    .filter(|name| !name.is_empty())
                    .map(str::to_owned),
            );
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => return Ok(names),
            }
        }
    }

    async fn exists(self: Arc<Self>, key: String) -> Result<bool> {
        check_key(&key).map_err(|e| self.error(&key, e))?;
        let object_key = self.location.object_key(&key);
        if !MUTABLE_KEYS.contains(&key.as_str()) && self.cache.path(&object_key).is_file() {
            return Ok(true);
        }
        let head = self
            .with_retries(&object_key, "head", || {
                let request = self.client.head_object().bucket(&self.location.bucket).key(&object_key);
                async move { request.send().await.map_err(Failure::from_sdk) }
            })
            .await;
        match head {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.error(&key, e)),
        }
    }
}

impl BlobStore for S3BlobStore {
    fn read(&self, key: &str) -> Result<FileBytes> {
        self.run(key, Arc::clone(&self.inner).read(key.to_owned()))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.run(prefix, Arc::clone(&self.inner).list(prefix.to_owned()))
    }

    fn exists(&self, key: &str) -> Result<bool> {
        self.run(key, Arc::clone(&self.inner).exists(key.to_owned()))
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn hold(&self, prefix: &str) -> Result<BlobHold> {
        check_key(prefix).map_err(|e| self.inner.error(prefix, e))?;
        Ok(BlobHold::new(self.inner.cache.hold(&self.inner.location.object_key(prefix))))
    }

    /// OpenSearch records hashed shard paths from the bucket root; they are addressed as bucket-absolute
    /// keys (a leading `/`) so a `HASHED_PREFIX` layout, whose paths start before the repository prefix, works.
    fn container_key(&self, path: &str) -> Result<String> {
        let path = path.trim_start_matches('/');
        check_key(path).map_err(|e| self.inner.error(path, e))?;
        Ok(format!("/{path}"))
    }
}
