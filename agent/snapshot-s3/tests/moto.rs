//! The S3 store against a real S3-compatible server (moto, on 127.0.0.1, installed by scripts/setup): a
//! fixture repository uploaded to a bucket reads the same documents through `s3://` as from disk, a
//! connection cut mid-download is retried, and a corrupted blob fails its checksum.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_lucene::Commit;
use ferry_snapshot::{BlobStore, Error, FsBlobStore, Repository};
use ferry_snapshot_s3::{S3BlobStore, S3Location, S3Options};

const FIXTURE: &str = "ES_7_10_Double";
const BUCKET: &str = "snapshots";

/// A moto server on a free loopback port, killed (by PID) when dropped, also when a test panics.
struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_moto() -> Moto {
    let cache = std::env::var_os("FERRY_CACHE").map_or_else(|| PathBuf::from("/var/tmp/ferry-cache"), PathBuf::from);
    let binary = cache.join("venv/bin/moto_server");
    assert!(
        binary.exists(),
        "{} is missing: run scripts/setup (it installs moto into the test venv)",
        binary.display()
    );
    let port = free_port();
    let child = Command::new(&binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let moto = Moto { child, port };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
            let mut reply = [0u8; 12];
            if stream.read_exact(&mut reply).is_ok() && reply.starts_with(b"HTTP/1.") {
                return moto;
            }
        }
        assert!(Instant::now() < deadline, "moto did not start on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn set_test_credentials() {
    // moto accepts any credentials; the store finds these through the standard chain like real ones.
    std::env::set_var("AWS_ACCESS_KEY_ID", "ferry-test");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "ferry-test-secret");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/snapshots").join(FIXTURE)
}

fn files_under(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(root, &path, out);
        } else {
            let key = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            out.push((key, std::fs::read(&path).unwrap()));
        }
    }
}

/// Uploads the fixture repository under `prefix` with the Rust SDK, after `edit` may change blobs.
fn upload(endpoint: &str, prefix: &str, edit: impl Fn(&str, &mut Vec<u8>)) {
    set_test_credentials();
    let mut files = Vec::new();
    files_under(&fixture(), &fixture(), &mut files);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .load()
            .await;
        let config = aws_sdk_s3::config::Builder::from(&shared).endpoint_url(endpoint).force_path_style(true).build();
        let client = aws_sdk_s3::Client::from_conf(config);
        // The bucket may exist from another test against the same server.
        let _ = client.create_bucket().bucket(BUCKET).send().await;
        for (key, mut bytes) in files {
            edit(&key, &mut bytes);
            client.put_object().bucket(BUCKET).key(format!("{prefix}/{key}")).body(bytes.into()).send().await.unwrap();
        }
    });
}

fn options(cache: &Path, endpoint: &str) -> S3Options {
    let mut options = S3Options::new(cache, 64 << 20);
    options.endpoint = Some(endpoint.to_owned());
    options.region = Some("us-east-1".to_owned());
    // Tiny parts so the fixture's blobs are fetched as several parallel ranged GETs.
    options.part_size = 2048;
    options.base_delay = Duration::from_millis(20);
    options
}

/// Every live document of every shard of every snapshot: (snapshot, index, shard, id, source).
fn documents(store: Arc<dyn BlobStore>) -> Vec<(String, String, u32, String, Vec<u8>)> {
    let repo = Repository::open(store).unwrap();
    let mut out = Vec::new();
    for entry in repo.snapshots() {
        for index in &entry.indices {
            let meta = repo.index_metadata(entry, index).unwrap();
            for shard in 0..meta.number_of_shards {
                let dir = repo.shard_directory(entry, index, shard).unwrap();
                let commit = Commit::read(&dir, dir.segments_file_name()).unwrap();
                ferry_documents::read_commit(&dir, &commit, |_, doc| {
                    out.push((entry.name.clone(), index.clone(), shard, doc.id.to_owned(), doc.source.to_vec()));
                    Ok(())
                })
                .unwrap();
            }
        }
    }
    out.sort();
    out
}

#[test]
fn reads_the_same_documents_as_from_disk_and_caches_them() {
    let moto = start_moto();
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    upload(&endpoint, "repos/same", |_, _| {});
    let expected = documents(Arc::new(FsBlobStore::open(fixture()).unwrap()));
    assert!(expected.len() >= 5, "{}", expected.len());

    let cache = tempfile::tempdir().unwrap();
    let location = S3Location::parse(&format!("s3://{BUCKET}/repos/same")).unwrap();
    let store = Arc::new(S3BlobStore::open(location.clone(), options(cache.path(), &endpoint)).unwrap());
    assert_eq!(documents(store.clone()), expected);
    let stats = store.stats();
    let first_requests = stats.requests.load(Ordering::Relaxed);
    assert!(stats.bytes_downloaded.load(Ordering::Relaxed) > 10_000);
    assert_eq!(stats.retries.load(Ordering::Relaxed), 0);

    // A second pass, even through a new store over the same cache directory, downloads no blob again: only
    // index.latest and the listings/existence checks that are never cached go to the server.
    let again = Arc::new(S3BlobStore::open(location, options(cache.path(), &endpoint)).unwrap());
    assert_eq!(documents(again.clone()), expected);
    let second_requests = again.stats().requests.load(Ordering::Relaxed);
    assert!(again.stats().cache_hits.load(Ordering::Relaxed) > 5);
    assert!(second_requests < 5 && second_requests < first_requests, "{second_requests} vs {first_requests}");

    // A missing blob is an error naming the bucket and key, not a retry loop.
    let err = store.read("indices/nope/0/__missing").unwrap_err();
    assert!(matches!(&err, Error::Store { source, .. } if source.kind() == std::io::ErrorKind::NotFound), "{err}");
    let cause = std::error::Error::source(&err).map(ToString::to_string).unwrap_or_default();
    assert!(cause.contains("s3://snapshots/repos/same/indices/nope/0/__missing"), "{cause}");
    assert!(!format!("{err} {cause} {store:?}").contains("ferry-test-secret"));
}

/// A TCP proxy that, for the first `cuts` responses carrying a body, forwards the headers and a few body
/// bytes and then drops both connections; everything else passes through untouched.
fn cutting_proxy(upstream: u16, cuts: usize) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let done = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&done);
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else { return };
            let counter = Arc::clone(&counter);
            let (mut client_in, mut server_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut client_in, &mut server_out);
                let _ = server_out.shutdown(Shutdown::Write);
            });
            std::thread::spawn(move || relay_response(server, client, &counter, cuts));
        }
    });
    (port, done)
}

fn relay_response(mut server: TcpStream, mut client: TcpStream, cut: &AtomicUsize, cuts: usize) {
    let mut head = Vec::new();
    let mut buf = [0u8; 8192];
    // Read the first response's headers, then decide whether this connection is cut.
    let end = loop {
        match server.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = client.write_all(&head);
                return;
            }
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if let Some(at) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let headers = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
    let length = headers
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let is_get_body = headers.starts_with("http/1.1 20") && length > 64;
    if is_get_body && cut.fetch_add(1, Ordering::SeqCst) < cuts {
        // Headers plus a little of the body, then the connection dies.
        let _ = client.write_all(&head[..(end + 16).min(head.len())]);
        let _ = client.flush();
        let _ = client.shutdown(Shutdown::Both);
        let _ = server.shutdown(Shutdown::Both);
        return;
    }
    if is_get_body {
        cut.fetch_sub(1, Ordering::SeqCst);
    }
    if client.write_all(&head).is_err() {
        return;
    }
    let _ = std::io::copy(&mut server, &mut client);
    let _ = client.shutdown(Shutdown::Write);
}

#[test]
fn a_connection_cut_mid_download_is_retried() {
    let moto = start_moto();
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    upload(&endpoint, "repos/cut", |_, _| {});
    let expected = documents(Arc::new(FsBlobStore::open(fixture()).unwrap()));

    let (proxy, cut) = cutting_proxy(moto.port, 3);
    let cache = tempfile::tempdir().unwrap();
    let location = S3Location::parse(&format!("s3://{BUCKET}/repos/cut")).unwrap();
    let store =
        Arc::new(S3BlobStore::open(location, options(cache.path(), &format!("http://127.0.0.1:{proxy}"))).unwrap());
    assert_eq!(documents(store.clone()), expected);
    assert!(cut.load(Ordering::SeqCst) >= 3, "the proxy cut {} responses", cut.load(Ordering::SeqCst));
    assert!(store.stats().retries.load(Ordering::Relaxed) >= 3, "{:?}", store.stats());
    // No partial download was left looking complete.
    let mut cached = Vec::new();
    files_under(cache.path(), cache.path(), &mut cached);
    assert!(
        cached.iter().all(|(key, _)| !key.contains("partial")),
        "{:?}",
        cached.iter().map(|c| &c.0).collect::<Vec<_>>()
    );
}

#[test]
fn a_corrupted_blob_fails_its_checksum() {
    let moto = start_moto();
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    // Flip one byte in the middle of every data blob of shard 0 (every Lucene file is longer than its 16-byte
    // footer twice over): length and footer stay as recorded, the bytes no longer hash to the footer CRC.
    let corrupted = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&corrupted);
    upload(&endpoint, "repos/bad", move |key, bytes| {
        if key.contains("/0/__") && bytes.len() > 32 {
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x40;
            seen.lock().unwrap().push(key.to_owned());
        }
    });
    assert!(!corrupted.lock().unwrap().is_empty());

    let cache = tempfile::tempdir().unwrap();
    let location = S3Location::parse(&format!("s3://{BUCKET}/repos/bad")).unwrap();
    let store = Arc::new(S3BlobStore::open(location, options(cache.path(), &endpoint)).unwrap());
    let repo = Repository::open(store).unwrap();
    let entry = &repo.snapshots()[0];
    let index = &entry.indices[0];
    let dir = repo.shard_directory(entry, index, 0).unwrap();
    let blob_files: Vec<_> = dir.files().filter(|f| !f.is_virtual()).map(|f| f.physical_name.clone()).collect();
    assert!(!blob_files.is_empty());
    for name in blob_files {
        let err = dir.read(&name).unwrap_err();
        assert!(matches!(err, Error::Checksum { .. }), "{name}: {err}");
    }
}
