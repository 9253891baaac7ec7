//! Shared helpers for the end-to-end tests in `tests/tests/`: locating the workspace, the fixtures and the built
//! `ferry` binary, running it, and driving the real-Lucene oracle (`tests/oracle/*.java`) that writes
//! Elasticsearch-shaped indices and lists their live documents as Lucene itself sees them.
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::env;
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use base64::Engine as _;
use serde_json::Value;

/// The cargo workspace root (the folder holding the root `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The read-only real-world fixtures (`tests/fixtures`); tests copy from here before breaking anything.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The profile directory the running test was built into (`target/<profile>`), derived from the test executable
/// (`target/<profile>/deps/<test>-<hash>`).
pub fn profile_dir() -> PathBuf {
    let exe = env::current_exe().expect("the test executable has a path");
    let deps = exe.parent().expect("the test executable lives in target/<profile>/deps");
    deps.parent().map(Path::to_path_buf).expect("target/<profile>/deps has a parent")
}

/// The built `ferry` binary: `$FERRY_BIN` if set, else `target/<profile>/ferry` next to the test executable.
///
/// `cargo test` builds a package's binaries only for that package's own integration tests, so when the binary is
/// missing it is built once per process with the cargo that runs the tests (`$CARGO`), into the same target dir
/// and profile. Panics with the command to run when that is impossible.
pub fn ferry_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = env::var_os("FERRY_BIN") {
            let path = PathBuf::from(path);
            assert!(path.is_file(), "FERRY_BIN points at {}, which is not a file", path.display());
            return path;
        }
        let profile = profile_dir();
        let path = profile.join(format!("ferry{}", env::consts::EXE_SUFFIX));
        if !path.is_file() {
            build_ferry(&profile);
        }
        assert!(
            path.is_file(),
            "the ferry binary is missing at {}: build it with `cargo build -p ferry-cli`, or point FERRY_BIN at it",
            path.display()
        );
        path
    })
    .clone()
}

/// Builds the `ferry` binary into `profile` (`<target dir>/<profile>`) with the cargo running the tests.
fn build_ferry(profile: &Path) {
    let Some(cargo) = env::var_os("CARGO") else { return };
    let mut command = Command::new(cargo);
    command.args(["build", "--quiet", "--package", "ferry-cli", "--bin", "ferry", "--manifest-path"]);
    command.arg(workspace_root().join("Cargo.toml"));
    if let Some(target_dir) = profile.parent() {
        command.arg("--target-dir").arg(target_dir);
    }
    match profile.file_name().and_then(OsStr::to_str) {
        Some("debug") | None => {}
        Some("release") => {
            command.arg("--release");
        }
        Some(other) => {
            command.args(["--profile", other]);
        }
    }
    let status = command.status().unwrap_or_else(|e| panic!("cannot run cargo to build ferry: {e}"));
    assert!(status.success(), "`cargo build -p ferry-cli` failed ({status}); see its output above");
}

/// What a finished child process left behind.
#[derive(Debug)]
pub struct Output {
    /// The exit code; `None` when a signal ended the process.
    pub code: Option<i32>,
    /// Everything written to stdout.
    pub stdout: Vec<u8>,
    /// Everything written to stderr, lossily decoded.
    pub stderr: String,
}

impl Output {
    /// Whether the process exited with code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Whether the process panicked (Rust's exit code 101 or a panic message) or died from a signal.
    pub fn panicked(&self) -> bool {
        self.code.is_none() || self.code == Some(101) || self.stderr.contains("panicked")
    }

    /// Stdout as UTF-8, panicking with the stderr when it is not.
    pub fn stdout_str(&self) -> &str {
        std::str::from_utf8(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not UTF-8 ({e}); stderr: {}", self.stderr))
    }

    /// Panics with the captured stderr unless the process exited with code 0.
    pub fn assert_success(&self, what: &str) -> &Self {
        assert!(self.success(), "{what} failed with {:?}; stderr:\n{}", self.code, self.stderr);
        self
    }
}

/// Runs a command to completion, capturing stdout and stderr.
pub fn run<I, S>(program: &Path, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    Output {
        code: output.status.code(),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs the `ferry` binary with `args`.
pub fn run_ferry<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run(&ferry_bin(), args)
}

/// One live document as a reader reports it, in a form both the oracle and `ferry` output map onto.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LiveDoc {
    /// The segment name, e.g. `_0`.
    pub segment: String,
    /// The doc id within the segment.
    pub doc: u64,
    /// The decoded Elasticsearch `_id`.
    pub id: String,
    /// `_routing`, when the document has one.
    pub routing: Option<String>,
    /// The exact stored `_source` bytes; `None` when the document has no `_source`.
    pub source: Option<Vec<u8>>,
}

impl LiveDoc {
    /// Parses one JSON line of the oracle's `list` or of `ferry lucene docs --raw-source`.
    ///
    /// `_source` is accepted as a JSON string (its UTF-8 bytes) and `_source_base64` as base64 of the exact bytes.
    pub fn from_json_line(line: &str) -> Result<LiveDoc, String> {
        let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON ({e}): {line}"))?;
        let field = |name: &str| value.get(name);
        let string = |name: &str| -> Result<Option<String>, String> {
            match field(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(format!("`{name}` is not a string: {other}")),
            }
        };
        let source = match (string("_source")?, string("_source_base64")?) {
            (Some(text), None) => Some(text.into_bytes()),
            (None, Some(b64)) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| format!("bad _source_base64: {e}"))?,
            ),
            (None, None) => None,
            (Some(_), Some(_)) => return Err(format!("both _source and _source_base64: {line}")),
        };
        Ok(LiveDoc {
            segment: string("segment")?.ok_or_else(|| format!("no `segment`: {line}"))?,
            doc: field("doc").and_then(Value::as_u64).ok_or_else(|| format!("no integer `doc`: {line}"))?,
            id: string("_id")?.ok_or_else(|| format!("no `_id`: {line}"))?,
            routing: string("_routing")?,
            source,
        })
    }

    /// Parses JSON-lines output into documents sorted by (segment, doc).
    pub fn parse_lines(text: &str) -> Result<Vec<LiveDoc>, String> {
        let mut docs = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(LiveDoc::from_json_line)
            .collect::<Result<Vec<_>, _>>()?;
        docs.sort();
        Ok(docs)
    }

    /// A one-line description without the (possibly megabyte-long) source.
    pub fn summary(&self) -> String {
        let source = match &self.source {
            None => "no _source".to_owned(),
            Some(bytes) => {
                let head = String::from_utf8_lossy(bytes.get(..40).unwrap_or(bytes));
                format!("_source {} bytes {head:?}…", bytes.len())
            }
        };
        format!("{}/{} _id={:?} _routing={:?} {source}", self.segment, self.doc, self.id, self.routing)
    }
}

/// Describes the first difference between two sorted document lists, or `None` when they are equal.
pub fn first_difference(expected: &[LiveDoc], actual: &[LiveDoc]) -> Option<String> {
    for (i, (e, a)) in expected.iter().zip(actual).enumerate() {
        if e != a {
            return Some(format!("entry {i} differs:\n  expected {}\n  actual   {}", e.summary(), a.summary()));
        }
    }
    match expected.len().cmp(&actual.len()) {
        std::cmp::Ordering::Equal => None,
        std::cmp::Ordering::Greater => Some(format!(
            "{} expected docs missing, first: {}",
            expected.len() - actual.len(),
            expected.get(actual.len()).map(LiveDoc::summary).unwrap_or_default()
        )),
        std::cmp::Ordering::Less => Some(format!(
            "{} unexpected extra docs, first: {}",
            actual.len() - expected.len(),
            actual.get(expected.len()).map(LiveDoc::summary).unwrap_or_default()
        )),
    }
}

/// Copies the files of a flat directory (a Lucene index) into `to`, which is created.
pub fn copy_dir(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

/// FNV-1a, 64 bits: a stable content hash for cache keys (std's hasher is not stable across releases).
fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The Lucene 8.8 oracle: compiled Java classes plus a cache of generated indices, shared by all tests in a
/// process and, through the cache directory, across runs.
pub struct Oracle {
    java: PathBuf,
    classpath: String,
    root: PathBuf,
    generating: Mutex<()>,
}

/// Where Lucene jars are looked up when `$FERRY_LUCENE_JARS` is unset (Debian's `liblucene8-java`).
const DEFAULT_JAR_DIR: &str = "/usr/share/java";

/// The jar name prefixes the oracle needs (core writes and reads; backward-codecs reads `Lucene86` segments).
const JARS: [&str; 2] = ["lucene-core-8", "lucene-backward-codecs-8"];

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A sibling of `path` that no other process or thread uses, to build into before an atomic rename.
fn temp_sibling(path: &Path) -> PathBuf {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!("{name}.tmp-{}-{n}", std::process::id()))
}

/// Moves a finished `tmp` into place; when another process got there first, keeps theirs.
fn publish(tmp: &Path, path: &Path) {
    if fs::rename(tmp, path).is_err() {
        assert!(path.exists(), "cannot move {} to {}", tmp.display(), path.display());
        let _ = fs::remove_dir_all(tmp);
    }
}

fn setup_hint() -> &'static str {
    "run scripts/setup (it installs Lucene 8.8, Debian's liblucene8-java, next to the Java 17 JDK that CI provides), \
     or set FERRY_LUCENE_JARS to a folder holding lucene-core-8*.jar and lucene-backward-codecs-8*.jar"
}

impl Oracle {
    /// The process-wide oracle, compiling the Java sources on first use (cached by their hash).
    ///
    /// Panics with setup instructions when Java or the Lucene jars are missing: these tests must not pass vacuously.
    pub fn get() -> &'static Oracle {
        static ORACLE: OnceLock<Oracle> = OnceLock::new();
        ORACLE.get_or_init(|| Oracle::init().unwrap_or_else(|e| panic!("the Lucene oracle is unavailable: {e}")))
    }

    fn init() -> Result<Oracle, String> {
        let jar_dir = env::var_os("FERRY_LUCENE_JARS").map(PathBuf::from).unwrap_or_else(|| DEFAULT_JAR_DIR.into());
        let mut jars = Vec::new();
        for prefix in JARS {
            let found = fs::read_dir(&jar_dir)
                .ok()
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    name.starts_with(prefix) && name.ends_with(".jar")
                })
                .min();
            jars.push(found.ok_or_else(|| format!("no {prefix}*.jar in {}: {}", jar_dir.display(), setup_hint()))?);
        }
        let classpath_jars = env::join_paths(&jars).map_err(|e| e.to_string())?.to_string_lossy().into_owned();

        let sources_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("oracle");
        let mut sources: Vec<PathBuf> = fs::read_dir(&sources_dir)
            .map_err(|e| format!("cannot list {}: {e}", sources_dir.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension() == Some(OsStr::new("java")))
            .collect();
        sources.sort();
        let mut hash = 0xcbf2_9ce4_8422_2325;
        for path in sources.iter().chain(&jars) {
            hash = fnv1a(hash, path.file_name().map(|n| n.as_encoded_bytes()).unwrap_or_default());
            let meta = fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
            if path.extension() == Some(OsStr::new("java")) {
                hash = fnv1a(hash, &fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?);
            } else {
                hash = fnv1a(hash, &meta.len().to_le_bytes());
            }
        }

        let cache = env::var_os("FERRY_TEST_CACHE").map(PathBuf::from).unwrap_or_else(|| {
            profile_dir().parent().map(Path::to_path_buf).unwrap_or_default().join("ferry-oracle-cache")
        });
        let root = cache.join(format!("{hash:016x}"));
        let classes = root.join("classes");
        if !classes.is_dir() {
            fs::create_dir_all(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
            let tmp = temp_sibling(&classes);
            let javac = find_tool("javac")?;
            let mut args = vec!["-encoding".into(), "UTF-8".into(), "-d".into(), tmp.clone().into_os_string()];
            args.extend(["-cp".into(), classpath_jars.clone().into()]);
            args.extend(sources.iter().map(|p| p.clone().into_os_string()));
            let out = run(&javac, &args);
            if !out.success() {
                return Err(format!("javac failed:\n{}", out.stderr));
            }
            publish(&tmp, &classes);
        }
        let classpath = env::join_paths(std::iter::once(classes).chain(jars))
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .into_owned();
        Ok(Oracle { java: find_tool("java")?, classpath, root, generating: Mutex::new(()) })
    }

    /// Runs the oracle's `main` with `args`.
    pub fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut all: Vec<std::ffi::OsString> = vec!["-cp".into(), self.classpath.clone().into(), "LuceneOracle".into()];
        all.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        run(&self.java, all)
    }

    /// The index for a named config (see `LuceneOracle.CONFIGS`), generated on first use and cached.
    pub fn index(&self, config: &str) -> PathBuf {
        let dir = self.root.join("indices").join(config);
        if dir.is_dir() {
            return dir;
        }
        // One generation at a time per process: the JVMs would only fight over the machine's few cores.
        let _guard = self.generating.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !dir.is_dir() {
            fs::create_dir_all(self.root.join("indices")).expect("create the oracle index cache");
            let tmp = temp_sibling(&dir);
            let out = self.run([OsStr::new("generate"), tmp.as_os_str(), OsStr::new("--config"), OsStr::new(config)]);
            out.assert_success(&format!("oracle generate --config {config}"));
            publish(&tmp, &dir);
        }
        dir
    }

    /// The live documents of an index as Lucene reads them, sorted by (segment, doc).
    pub fn list(&self, dir: &Path) -> Vec<LiveDoc> {
        let out = self.run([OsStr::new("list"), dir.as_os_str()]);
        out.assert_success(&format!("oracle list {}", dir.display()));
        LiveDoc::parse_lines(out.stdout_str()).unwrap_or_else(|e| panic!("oracle output: {e}"))
    }
}

/// Finds `java`/`javac` under `$JAVA_HOME/bin` or on `PATH`.
fn find_tool(name: &str) -> Result<PathBuf, String> {
    let java_home = env::var_os("JAVA_HOME").map(|home| PathBuf::from(home).join("bin"));
    let path_dirs = env::var_os("PATH").map(|p| env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default();
    java_home
        .into_iter()
        .chain(path_dirs)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| format!("`{name}` not found on PATH or in $JAVA_HOME/bin: {}", setup_hint()))
}

/// Totals reported by `ferry lucene scan --json`, keyed by name.
pub fn scan_totals(dir: &Path) -> BTreeMap<String, u64> {
    let out = run_ferry([OsStr::new("lucene"), OsStr::new("scan"), dir.as_os_str(), OsStr::new("--json")]);
    out.assert_success("ferry lucene scan --json");
    let value: Value = serde_json::from_str(out.stdout_str().trim())
        .unwrap_or_else(|e| panic!("scan --json printed no JSON object ({e}): {}", out.stdout_str()));
    value
        .as_object()
        .map(|o| o.iter().filter_map(|(k, v)| v.as_u64().map(|n| (k.clone(), n))).collect())
        .unwrap_or_default()
}
