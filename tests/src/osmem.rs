//! A real OpenSearch-compatible server for tests: osmem-server (installed by `scripts/setup` into the cache
//! venv) on 127.0.0.1, on a port it picks itself, stopped when the guard drops.

use std::env;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a server may take to print its address and answer `GET /`.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running osmem-server. Dropping it kills the process (also when a test panics); should the test process
/// die without unwinding, the server exits by itself when its stdin, held here, closes.
pub struct Osmem {
    child: Child,
    // Held open only so that the server's stdin watch keeps it alive exactly as long as this guard.
    _stdin: ChildStdin,
    url: String,
}

impl Osmem {
    /// The osmem-server binary: `FERRY_OSMEM_BIN`, else the one `scripts/setup` installs into
    /// `${FERRY_CACHE:-/var/tmp/ferry-cache}/venv`.
    pub fn binary() -> PathBuf {
        if let Some(bin) = env::var_os("FERRY_OSMEM_BIN") {
            return PathBuf::from(bin);
        }
        let cache =
            env::var_os("FERRY_CACHE").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/var/tmp/ferry-cache"));
        cache.join("venv/lib/python3.11/site-packages/osmem_server/bin/osmem-server")
    }

    /// Starts a fresh, empty server on 127.0.0.1 and waits until `GET /` answers 200. Panics with the
    /// server's output when it does not come up.
    pub fn start() -> Osmem {
        let binary = Osmem::binary();
        assert!(
            binary.is_file(),
            "osmem-server not found at {} (run scripts/setup, or set FERRY_OSMEM_BIN)",
            binary.display()
        );
        let mut child = Command::new(&binary)
            .args(["-addr", "127.0.0.1:0", "-parent-pid", &std::process::id().to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            panic!("osmem-server started without pipes");
        };
        // The guard owns the process from here, so every panic below still kills it.
        let mut server = Osmem { child, _stdin: stdin, url: String::new() };

        // The first stdout line is `{"url":"http://127.0.0.1:PORT",…}`; later output is drained so the server
        // never blocks on a full pipe.
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            for _ in lines {}
        });
        let first = match rx.recv_timeout(START_TIMEOUT) {
            Ok(Some(Ok(line))) => line,
            other => panic!("osmem-server printed no address within {START_TIMEOUT:?}: {other:?}"),
        };
        let announced: Value =
            serde_json::from_str(&first).unwrap_or_else(|e| panic!("osmem-server's first line {first:?}: {e}"));
        server.url = announced["url"].as_str().unwrap_or_else(|| panic!("no url in {first:?}")).to_string();
        server.wait_ready();
        server
    }

    /// Base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `host:port` of the server.
    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("osmem-server exited during start-up: {status}");
            }
            if http_get_status(self.addr(), "/") == Some(200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "osmem-server at {} did not answer GET / within {START_TIMEOUT:?}",
                self.url
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Osmem {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status of a plain `GET path` over a new connection, or `None` when nothing sensible came back.
pub fn http_get_status(addr: &str, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(head.get(9..12)?).ok()?.parse().ok()
}
