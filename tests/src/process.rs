//! `ferry` commands as child processes the tests drive and stop: [`FerryProcess`] for any command,
//! [`CaptureProxy`] for `ferry capture` (its address, its Prometheus metrics, SIGTERM to stop).

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::http::HttpConnection;

/// How long a `ferry` child process may take to start or to finish what a test asked of it.
const PROCESS_TIMEOUT: Duration = Duration::from_secs(120);

/// How long [`CaptureProxy::wait_for`] polls before giving up.
const CONDITION_TIMEOUT: Duration = Duration::from_secs(60);

/// Pause between two checks of a [`CaptureProxy::wait_for`] condition.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// A `ferry` child process whose stderr is echoed (prefixed) and kept; killed with SIGKILL on drop unless it
/// was waited for.
pub struct FerryProcess {
    child: Child,
    name: String,
    stderr: Arc<Mutex<String>>,
    lines: mpsc::Receiver<String>,
}

impl FerryProcess {
    /// Starts `ferry` with `args`; `name` prefixes its echoed stderr.
    pub fn spawn<I, S>(name: &str, args: I) -> FerryProcess
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut child = Command::new(crate::ferry_bin())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start ferry {name}: {e}"));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, lines) = mpsc::channel();
        if let Some(pipe) = child.stderr.take() {
            let (kept, prefix) = (Arc::clone(&stderr), name.to_string());
            thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    eprintln!("[{prefix}] {line}");
                    if let Ok(mut all) = kept.lock() {
                        all.push_str(&line);
                        all.push('\n');
                    }
                    let _ = tx.send(line);
                }
            });
        }
        FerryProcess { child, name: name.to_string(), stderr, lines }
    }

    /// The process id (for signals).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Everything the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits for a stderr line starting with `prefix` and returns the rest of it. Panics after the timeout.
    pub fn wait_for_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + PROCESS_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.to_string();
                    }
                }
                Err(_) => panic!("ferry {} printed no line starting with {prefix:?}:\n{}", self.name, self.stderr()),
            }
        }
    }

    /// Waits for the process to exit (panicking after the timeout) and returns its exit code and stderr.
    pub fn wait(mut self) -> crate::Output {
        let deadline = Instant::now() + PROCESS_TIMEOUT;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                Ok(None) => panic!("ferry {} still running after {PROCESS_TIMEOUT:?}:\n{}", self.name, self.stderr()),
                Err(e) => panic!("wait for ferry {}: {e}", self.name),
            }
        };
        // The echo thread ends with the pipe; give it a moment to take the last lines.
        let end = Instant::now() + Duration::from_secs(5);
        while self.lines.recv_timeout(end.saturating_duration_since(Instant::now())).is_ok() {}
        crate::Output { code: status.code(), stdout: Vec::new(), stderr: self.stderr() }
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for a clean exit (status 0). Panics otherwise.
    pub fn terminate(self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid} failed");
        let name = self.name.clone();
        let out = self.wait();
        assert!(out.success(), "ferry {name} exited with {:?} after SIGTERM:\n{}", out.code, out.stderr);
    }
}

impl Drop for FerryProcess {
    fn drop(&mut self) {
        if self.is_running() {
            self.kill();
        }
    }
}

/// `ferry capture` listening on the address it printed; killed with SIGKILL on drop unless stopped.
pub struct CaptureProxy {
    process: FerryProcess,
    addr: String,
    metrics: Option<String>,
}

impl CaptureProxy {
    /// Starts the proxy on a free 127.0.0.1 port for `upstream` (a URL) writing to the log `log`, with `extra`
    /// arguments (e.g. `--kafka`). Its metrics are readable when `extra` holds `--metrics-listen`.
    pub fn start(upstream: &str, log: &Path, extra: &[&str]) -> CaptureProxy {
        let mut args = vec!["capture".as_ref(), "--listen".as_ref(), "127.0.0.1:0".as_ref(), "--upstream".as_ref()];
        args.extend([OsStr::new(upstream), OsStr::new("--log"), log.as_os_str()]);
        args.extend(extra.iter().map(OsStr::new));
        CaptureProxy::spawn(args, extra.contains(&"--metrics-listen"))
    }

    /// Starts the proxy as `ferry capture --config CONFIG` with `extra` arguments (which override the file).
    /// The configuration must set `metrics_listen`: this waits for the metrics address too.
    pub fn with_config(config: &Path, extra: &[&str]) -> CaptureProxy {
        let mut args = vec!["capture".as_ref(), "--config".as_ref(), config.as_os_str()];
        args.extend(extra.iter().map(OsStr::new));
        CaptureProxy::spawn(args, true)
    }

    fn spawn(args: Vec<&OsStr>, metrics: bool) -> CaptureProxy {
        let mut process = FerryProcess::spawn("capture", args);
        // The proxy announces its metrics address right after its listening address.
        let addr = process.wait_for_line("listening on ");
        let metrics = metrics.then(|| process.wait_for_line("metrics on "));
        CaptureProxy { process, addr, metrics }
    }

    /// `host:port` clients connect to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The Prometheus text the metrics endpoint serves now.
    pub fn metrics(&self) -> String {
        let addr = self.metrics.as_deref().unwrap_or_else(|| {
            panic!("this ferry capture serves no metrics (start it with --metrics-listen or metrics_listen)")
        });
        let response = HttpConnection::connect(addr).request("GET", "/metrics", None, b"");
        assert_eq!(response.status, 200, "GET /metrics on {addr}: {}", response.text());
        response.text()
    }

    /// The value of the sample `full_name` (with its labels, if any, e.g. `x_total{reason="y"}`). Panics when
    /// the endpoint has no such sample.
    pub fn metric(&self, full_name: &str) -> f64 {
        let text = self.metrics();
        let value = text.lines().find_map(|line| line.strip_prefix(full_name).and_then(|v| v.strip_prefix(' ')));
        let value = value.unwrap_or_else(|| panic!("no {full_name} in the metrics:\n{text}"));
        value.trim().parse().unwrap_or_else(|e| panic!("{full_name} {value}: {e}"))
    }

    /// Polls `condition` until it holds; panics naming `what` after a minute.
    pub fn wait_for(&self, what: &str, mut condition: impl FnMut(&CaptureProxy) -> bool) {
        let deadline = Instant::now() + CONDITION_TIMEOUT;
        while !condition(self) {
            assert!(Instant::now() < deadline, "timed out after {CONDITION_TIMEOUT:?} waiting for {what}");
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// Stops the proxy with SIGTERM (it flushes the log) and waits for a clean exit.
    pub fn stop(self) {
        self.process.terminate();
    }
}
