//! `ferry-agent`, the node daemon, end to end: the real binary with a `[capture]` configuration in front of a
//! real osmem-server (readiness through a systemd notification socket, SIGTERM drains and flushes, the capture
//! log holds exactly what the client saw), its configuration errors and `--check`, a role that cannot start, and
//! the packaging around it: `systemd-analyze verify` of the unit and an Ansible syntax check and template render.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use ferry_capture_log::LogReader;
use ferry_tests::{agent_bin, run, workspace_root, Osmem};
use ferry_traffic::exchange::assemble;
use ferry_traffic::TrafficStream;

const TIMEOUT: Duration = Duration::from_secs(60);

/// A running `ferry-agent`; killed (SIGKILL) on drop unless it was stopped.
struct Agent {
    child: Child,
    /// Everything the agent logged, line by line, as it arrives.
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
}

impl Agent {
    fn start(config: &Path, notify_socket: &Path) -> Agent {
        let mut child = Command::new(agent_bin())
            .arg("--config")
            .arg(config)
            .env("FERRY_LOG", "info")
            .env("NOTIFY_SOCKET", notify_socket)
            .env_remove("JOURNAL_STREAM")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ferry-agent starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[agent] {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Agent { child, lines, log: Vec::new() }
    }

    /// Waits for a log line containing `needle` and returns it.
    fn wait_for_line(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(e) => panic!("no log line with {needle:?} ({e}); log so far:\n{}", self.log.join("\n")),
            }
        }
    }

    /// Sends SIGTERM and returns the exit code and the rest of the log.
    fn terminate(mut self) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs").success());
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait works") {
                break status;
            }
            assert!(Instant::now() < deadline, "ferry-agent did not stop within {TIMEOUT:?} of SIGTERM");
            thread::sleep(Duration::from_millis(20));
        };
        // The reader thread ends with the pipe, so this collects every remaining line.
        self.log.extend(self.lines.try_iter().collect::<Vec<_>>());
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.log.push(line);
        }
        (status.code(), self.log.join("\n"))
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn capture_config(listen: &str, upstream: &str, log_dir: &Path) -> String {
    format!(
        "[capture]\nlisten = \"{listen}\"\nupstream = \"{upstream}\"\nshutdown_grace = 5\n\n\
         [capture.capture]\nlog_dir = \"{}\"\nfsync = \"never\"\n\n\
         [[capture.suppress]]\npath = \"^/_cluster/health\"\n",
        log_dir.display()
    )
}

/// The datagrams systemd would receive on `NOTIFY_SOCKET`.
fn notify_socket(dir: &Path) -> (PathBuf, UnixDatagram) {
    let path = dir.join("notify.sock");
    let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
    socket.set_read_timeout(Some(TIMEOUT)).expect("read timeout");
    (path, socket)
}

fn receive(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 256];
    let n = socket.recv(&mut buf).expect("a notification within the timeout");
    String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned()
}

/// Writes `request` on a fresh connection and reads until the server closes it (the last request says
/// `connection: close`).
fn exchange(addr: &str, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect through the proxy");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    stream.write_all(request).expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read to the end");
    response
}

/// Runs `ferry-agent --check --config CONFIG`.
fn check(config: &Path) -> ferry_tests::Output {
    run(&agent_bin(), [OsStr::new("--check"), OsStr::new("--config"), config.as_os_str()])
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("agent.toml");
    std::fs::write(&path, text).expect("write the config");
    path
}

#[test]
fn the_capture_role_serves_through_the_proxy_and_flushes_its_log_on_sigterm() {
    let osmem = Osmem::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let log_dir = dir.path().join("capture");
    let config = write_config(dir.path(), &capture_config("127.0.0.1:0", osmem.url(), &log_dir));
    let (socket_path, socket) = notify_socket(dir.path());
    let mut agent = Agent::start(&config, &socket_path);

    assert_eq!(receive(&socket), "READY=1", "systemd hears READY=1 once the proxy is listening");
    let ready = agent.wait_for_line("role ready");
    let addr = ready
        .split_whitespace()
        .find_map(|field| field.strip_prefix("listen="))
        .unwrap_or_else(|| panic!("no listen= in {ready:?}"))
        .to_string();

    let doc = r#"{"title":"through the agent"}"#;
    let requests = [
        format!(
            "PUT /agent/_doc/1?refresh=true HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{doc}",
            doc.len()
        ),
        "GET /_cluster/health HTTP/1.1\r\nhost: x\r\n\r\n".to_string(),
        "GET /agent/_doc/1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".to_string(),
    ]
    .concat();
    let received = exchange(&addr, requests.as_bytes());
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 201"), "the PUT was created upstream: {text}");
    assert!(text.contains("through the agent"), "the GET returned the document: {text}");

    let (code, log) = agent.terminate();
    assert_eq!(code, Some(0), "SIGTERM is a graceful stop; log:\n{log}");
    assert_eq!(receive(&socket), "STOPPING=1");
    assert!(log.contains("capture log flushed"), "{log}");

    // The log holds every captured exchange once, byte for byte as the client saw it; the health check was
    // forwarded but suppressed.
    let mut records = Vec::new();
    for record in LogReader::open(&log_dir).expect("the capture log opens") {
        let record = record.expect("a readable record");
        records.push(TrafficStream::decode(&record.bytes).expect("a TrafficStream"));
    }
    let connections = assemble(&records);
    assert_eq!(connections.len(), 1, "{connections:?}");
    let connection = &connections[0];
    assert_eq!(connection.dropped, 1, "the suppressed health check is counted");
    let summary: Vec<(String, String, u16, bool)> = connection
        .exchanges
        .iter()
        .map(|e| {
            let head = e.request_head.as_ref().expect("a request head");
            let status = e.response_head.as_ref().map_or(0, |h| h.status);
            (head.method.clone(), head.target.clone(), status, e.complete)
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("PUT".to_string(), "/agent/_doc/1?refresh=true".to_string(), 201, true),
            ("GET".to_string(), "/agent/_doc/1".to_string(), 200, true),
        ]
    );
    let put = &connection.exchanges[0];
    assert!(put.request.ends_with(doc.as_bytes()), "the request body is recorded unchanged");
    let last = &connection.exchanges[1];
    assert!(received.ends_with(&last.response), "the recorded GET response is what the client received last");
    assert!(received.starts_with(&put.response), "the recorded PUT response is what the client received first");
}

#[test]
fn an_invalid_configuration_names_the_key_and_the_file_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_dir = dir.path().join("capture");
    let valid = capture_config("127.0.0.1:0", "http://127.0.0.1:9", &log_dir);
    let cases = [
        ("unknown key", valid.replace("listen =", "listne ="), "unknown field `listne`"),
        ("unknown section", format!("{valid}\n[backfil]\nx = 1\n"), "unknown field `backfil`"),
        ("missing upstream", valid.replace("upstream = \"http://127.0.0.1:9\"\n", ""), "missing field `upstream`"),
        ("bad upstream", valid.replace("http://127.0.0.1:9", "ftp://x"), "capture.upstream:"),
        ("bad fsync", valid.replace("\"never\"", "\"sometimes\""), "capture.capture.fsync:"),
        ("no role", "# nothing enabled\n".to_string(), "no role is enabled"),
        ("not TOML", "[capture\n".to_string(), "TOML parse error"),
    ];
    for (what, text, expected) in cases {
        let config = write_config(dir.path(), &text);
        for check_only in [true, false] {
            let out = if check_only {
                check(&config)
            } else {
                run(&agent_bin(), [OsStr::new("--config"), config.as_os_str()])
            };
            assert_eq!(out.code, Some(2), "{what} (check={check_only}): {}", out.stderr);
            assert!(!out.panicked(), "{what}: {}", out.stderr);
            assert!(out.stderr.contains(expected), "{what}: {expected:?} not in {}", out.stderr);
            assert!(out.stderr.contains(&config.display().to_string()), "{what}: file not named: {}", out.stderr);
        }
    }
    let missing = dir.path().join("absent.toml");
    let out = check(&missing);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains(&format!("cannot read {}", missing.display())), "{}", out.stderr);
}

#[test]
fn check_accepts_valid_configurations_without_starting_anything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_dir = dir.path().join("capture");
    // A port that is taken: `--check` must not try to bind it.
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let listen = taken.local_addr().expect("addr").to_string();
    let config = write_config(dir.path(), &capture_config(&listen, "http://127.0.0.1:9", &log_dir));
    let out = check(&config);
    out.assert_success("ferry-agent --check");
    assert_eq!(out.stdout_str().trim(), format!("{}: OK (roles: capture)", config.display()));
    assert!(!log_dir.exists(), "--check opened the capture log");

    let example = workspace_root().join("packaging/agent.example.toml");
    let out = check(&example);
    out.assert_success("ferry-agent --check on the packaged example");

    // The commented-out replay role, uncommented, is a valid configuration too.
    let text = std::fs::read_to_string(&example).expect("the packaged example");
    let replay: String = text
        .lines()
        .skip_while(|line| *line != "# [replay]")
        .map(|line| line.strip_prefix("# ").unwrap_or(line).to_string() + "\n")
        .collect();
    assert!(replay.contains("causal_order"), "the example shows the replay role:\n{replay}");
    let out = check(&write_config(dir.path(), &replay));
    out.assert_success("ferry-agent --check on the example's replay role");
}

#[test]
fn a_role_that_cannot_start_makes_the_agent_exit_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let listen = taken.local_addr().expect("addr").to_string();
    let config = write_config(dir.path(), &capture_config(&listen, "http://127.0.0.1:9", &dir.path().join("log")));
    let (socket_path, socket) = notify_socket(dir.path());
    let out = Command::new(agent_bin())
        .arg("--config")
        .arg(&config)
        .env("NOTIFY_SOCKET", &socket_path)
        .env("FERRY_LOG", "info")
        .stdin(Stdio::null())
        .output()
        .expect("ferry-agent runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("role failed") && stderr.contains(&format!("cannot listen on {listen}")), "{stderr}");
    socket.set_nonblocking(true).expect("nonblocking");
    let mut buf = [0u8; 64];
    let n = socket.recv(&mut buf).expect("STOPPING=1 was sent");
    assert_eq!(buf.get(..n), Some(&b"STOPPING=1"[..]), "READY=1 must not be sent when a role never started");
}

/// Where a tool lives: `name` on the PATH, or in the test venv (`${FERRY_CACHE:-/var/tmp/ferry-cache}/venv/bin`).
fn find_tool(name: &str, venv: bool) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    if venv {
        let cache =
            std::env::var_os("FERRY_CACHE").map_or_else(|| PathBuf::from("/var/tmp/ferry-cache"), PathBuf::from);
        dirs.insert(0, cache.join("venv/bin"));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// Copies every file under `from` into `to`, keeping what `to` already has.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        let kind = entry.file_type().expect("file type");
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if kind.is_symlink() {
            let link = std::fs::read_link(entry.path()).expect("readlink");
            let _ = std::os::unix::fs::symlink(link, &target);
        } else if !target.exists() {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn the_systemd_unit_verifies_against_the_built_binary() {
    let Some(analyze) = find_tool("systemd-analyze", false) else {
        println!("SKIP the_systemd_unit_verifies_against_the_built_binary: systemd-analyze is not installed");
        return;
    };
    // A root tree as the package installs it: the real binary, the unit, and the system's own units so that
    // the targets it names resolve.
    let root = tempfile::tempdir().expect("tempdir");
    let r = root.path();
    std::fs::create_dir_all(r.join("usr/bin")).expect("mkdir");
    std::fs::create_dir_all(r.join("etc/systemd/system")).expect("mkdir");
    std::fs::copy(agent_bin(), r.join("usr/bin/ferry-agent")).expect("copy the binary");
    copy_tree(Path::new("/lib/systemd/system"), &r.join("usr/lib/systemd/system"));
    let unit = r.join("usr/lib/systemd/system/ferry-agent.service");
    std::fs::copy(workspace_root().join("systemd/ferry-agent.service"), &unit).expect("copy the unit");
    const UNIT: &str = "/usr/lib/systemd/system/ferry-agent.service";
    let root_arg = format!("--root={}", r.display());

    let verify = run(&analyze, ["verify", &root_arg, UNIT]);
    assert!(verify.success(), "systemd-analyze verify: {:?}\n{}", verify.code, verify.stderr);
    let complaints: Vec<&str> = verify.stderr.lines().filter(|l| l.contains("ferry-agent")).collect();
    assert!(complaints.is_empty(), "systemd-analyze verify complains:\n{}", complaints.join("\n"));

    // The same check catches a unit whose binary is missing, so the pass above means something.
    std::fs::remove_file(r.join("usr/bin/ferry-agent")).expect("remove the binary");
    let broken = run(&analyze, ["verify", &root_arg, UNIT]);
    assert!(!broken.success() && broken.stderr.contains("/usr/bin/ferry-agent"), "{}", broken.stderr);

    let security = run(&analyze, ["security", "--offline=true", &root_arg, UNIT]);
    let exposure = security
        .stdout_str()
        .lines()
        .find_map(|l| l.split("Overall exposure level for ferry-agent.service: ").nth(1).map(str::to_string));
    let exposure =
        exposure.unwrap_or_else(|| panic!("no exposure level in:\n{}\n{}", security.stdout_str(), security.stderr));
    let score: f64 = exposure.split_whitespace().next().and_then(|s| s.parse().ok()).expect("a numeric exposure level");
    assert!(score <= 2.0, "the unit is not hardened enough: exposure {exposure}");
}

#[test]
fn the_ansible_playbook_passes_syntax_check_and_its_template_renders_a_valid_config() {
    let Some(playbook) = find_tool("ansible-playbook", true) else {
        println!("SKIP the_ansible_playbook_passes_syntax_check_and_its_template_renders_a_valid_config: ansible-playbook is not installed (scripts/setup adds ansible-core to the venv)");
        return;
    };
    let ansible = workspace_root().join("packaging/ansible");
    let syntax = Command::new(&playbook)
        .args(["--syntax-check", "-i", "localhost,"])
        .arg(ansible.join("site.yml"))
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .expect("ansible-playbook runs");
    assert!(
        syntax.status.success(),
        "syntax check: {}\n{}",
        String::from_utf8_lossy(&syntax.stdout),
        String::from_utf8_lossy(&syntax.stderr)
    );

    // Render the role's template with its defaults (plus TLS and retention, to cover the optional blocks) and
    // check the result with the agent itself, as the role's `validate:` does on a node.
    let dir = tempfile::tempdir().expect("tempdir");
    let rendered = dir.path().join("agent.toml");
    let role = ansible.join("roles/ferry_agent");
    let render = dir.path().join("render.yml");
    std::fs::write(
        &render,
        format!(
            "- hosts: localhost\n  gather_facts: false\n  vars_files: [{defaults}]\n  tasks:\n    \
             - ansible.builtin.template:\n        src: {template}\n        dest: {dest}\n        mode: \"0600\"\n",
            defaults = role.join("defaults/main.yml").display(),
            template = role.join("templates/agent.toml.j2").display(),
            dest = rendered.display(),
        ),
    )
    .expect("write the render playbook");
    let out = Command::new(&playbook)
        .args(["-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=/usr/bin/python3", "-e"])
        // Extra variables, because a play's `vars_files` (the role defaults here) outrank its `vars`.
        .arg(
            r#"{"ferry_agent_capture_upstream": "https://node1.example:9200",
                "ferry_agent_capture_tls_cert": "/etc/ferry/tls/proxy.crt",
                "ferry_agent_capture_tls_key": "/etc/ferry/tls/proxy.key",
                "ferry_agent_capture_retention_secs": 604800}"#,
        )
        .arg(&render)
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .expect("ansible-playbook runs");
    assert!(
        out.status.success(),
        "render: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&rendered).expect("the rendered config");
    for expected in [
        "upstream = \"https://node1.example:9200\"",
        "[capture.tls]",
        "retention_secs = 604800",
        "[[capture.suppress]]",
    ] {
        assert!(text.contains(expected), "{expected:?} not in\n{text}");
    }
    let check = check(&rendered);
    assert!(check.success(), "the rendered config is invalid: {}\n{text}", check.stderr);
}
