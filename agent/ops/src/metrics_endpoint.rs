//! The Prometheus text endpoint the proxy and the replayer expose, and the [`Exposition`] they render: any HTTP
//! request on the metrics address gets the current metrics. No routing and one response per connection — enough
//! for a scraper, and small enough that it needs no HTTP server crate.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// Request heads longer than this are not waited for (a scraper's is a few hundred bytes).
const MAX_HEAD: usize = 16 * 1024;

/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves `render()` on every connection accepted by `listener`, until the returned task is aborted or the
/// runtime stops. Must be called inside a tokio runtime.
pub fn serve<F>(listener: TcpListener, render: F) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> String + Send + Sync + 'static,
{
    let render = Arc::new(render);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let render = Arc::clone(&render);
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                let read_head = async {
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < MAX_HEAD {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return false,
                            Ok(n) => request.extend_from_slice(buf.get(..n).unwrap_or_default()),
                        }
                    }
                    true
                };
                if !matches!(tokio::time::timeout(HEAD_TIMEOUT, read_head).await, Ok(true)) {
                    return;
                }
                let body = render();
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    })
}

/// Builds the Prometheus text exposition: each metric's `HELP` and `TYPE` lines, then its samples, every name
/// under one prefix (`ferry_capture_`, `ferry_replay_`).
#[derive(Debug)]
pub struct Exposition {
    prefix: &'static str,
    out: String,
}

impl Exposition {
    /// An empty exposition whose metric names start with `prefix`.
    pub fn new(prefix: &'static str) -> Exposition {
        Exposition { prefix, out: String::new() }
    }

    /// One unlabelled sample. `kind` is `counter` or `gauge`.
    pub fn metric(&mut self, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
        self.header(name, kind, help);
        let _ = writeln!(self.out, "{}{name} {value}", self.prefix);
    }

    /// One sample per value of the label `label`.
    pub fn labelled<V: std::fmt::Display>(
        &mut self,
        name: &str,
        kind: &str,
        help: &str,
        label: &str,
        samples: impl IntoIterator<Item = (impl std::fmt::Display, V)>,
    ) {
        self.header(name, kind, help);
        for (label_value, value) in samples {
            let _ = writeln!(self.out, "{}{name}{{{label}=\"{label_value}\"}} {value}", self.prefix);
        }
    }

    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let prefix = self.prefix;
        let _ = write!(self.out, "# HELP {prefix}{name} {help}\n# TYPE {prefix}{name} {kind}\n");
    }

    /// The text.
    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[tokio::test]
    async fn any_request_gets_the_rendered_metrics() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = super::serve(listener, || "ferry_up 1\n".to_string());
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        client.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
        let mut answer = String::new();
        client.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.ends_with("\r\n\r\nferry_up 1\n"), "{answer}");
        task.abort();
    }

    #[test]
    fn an_exposition_has_help_and_type_before_each_metrics_samples() {
        let mut text = super::Exposition::new("ferry_test_");
        text.metric("up", "gauge", "Whether it runs.", 1);
        text.labelled("dropped_total", "counter", "Dropped, by reason.", "reason", [("full", 2u64), ("closed", 0)]);
        assert_eq!(
            text.finish(),
            "# HELP ferry_test_up Whether it runs.\n# TYPE ferry_test_up gauge\nferry_test_up 1\n\
             # HELP ferry_test_dropped_total Dropped, by reason.\n# TYPE ferry_test_dropped_total counter\n\
             ferry_test_dropped_total{reason=\"full\"} 2\nferry_test_dropped_total{reason=\"closed\"} 0\n"
        );
    }
}
