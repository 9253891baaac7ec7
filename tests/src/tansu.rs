//! A real Kafka-protocol broker for tests: tansu (installed by `scripts/setup`) on 127.0.0.1 with in-memory
//! storage, killed when the guard drops. Tests that need it call [`Tansu::start`] and return early (printing a
//! `SKIP:` line) when tansu is not installed.
//!
//! tansu 0.6.0 loses records when a consumer resumes in the middle of a produced batch, so producers in tests
//! send one record per batch (`linger.ms=0`, `batch.num.messages=1`; see [`Tansu::PRODUCER_WORKAROUND`]).

use std::env;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long the broker may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running tansu broker. Its storage is memory: [`Tansu::stop`] loses every record and topic.
pub struct Tansu {
    binary: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Tansu {
    /// librdkafka producer properties that keep tansu's fetches correct: one record per batch.
    pub const PRODUCER_WORKAROUND: [(&'static str, &'static str); 2] =
        [("linger.ms", "0"), ("batch.num.messages", "1")];

    /// The `tansu` binary on `PATH` (or in `$CARGO_HOME/bin`, where `cargo install` puts it).
    pub fn binary() -> Option<PathBuf> {
        let cargo_bin = env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
            .map(|home| home.join("bin"));
        env::var_os("PATH")
            .map(|path| env::split_paths(&path).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .chain(cargo_bin)
            .map(|dir| dir.join("tansu"))
            .find(|candidate| candidate.is_file())
    }

    /// Starts a broker on a free 127.0.0.1 port and waits until it accepts connections; `None` (after printing
    /// `SKIP: tansu not installed …` for `test`) when tansu is missing.
    pub fn start(test: &str) -> Option<Tansu> {
        let Some(binary) = Tansu::binary() else {
            println!("SKIP: tansu not installed (run scripts/setup): {test}");
            eprintln!("SKIP: tansu not installed (run scripts/setup): {test}");
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port on 127.0.0.1");
        let mut tansu = Tansu { binary, port, child: None };
        tansu.launch();
        Some(tansu)
    }

    /// `127.0.0.1:PORT`, for `bootstrap.servers`.
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Creates `topic` with `partitions` partitions (tansu's own admin command). Panics when it fails.
    pub fn create_topic(&self, topic: &str, partitions: u32) {
        let output = Command::new(&self.binary)
            .args(["topic", "create", topic, "--partitions", &partitions.to_string(), "--broker"])
            .arg(format!("tcp://{}", self.brokers()))
            .output()
            .expect("tansu topic create runs");
        assert!(
            output.status.success(),
            "tansu topic create {topic} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Kills the broker (records and topics are lost with it: memory storage).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the broker again on the same port, empty.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    fn launch(&mut self) {
        let url = format!("tcp://{}", self.brokers());
        let child = Command::new(&self.binary)
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary.display()));
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect(self.brokers()).is_err() {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("tansu exited during start-up: {status}");
            }
            assert!(Instant::now() < deadline, "tansu did not accept connections within {START_TIMEOUT:?}");
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.stop();
    }
}
