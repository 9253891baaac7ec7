//! The Prometheus text endpoint the proxy and the replayer expose: any HTTP request on the metrics address gets
//! the current metrics. No routing and one response per connection — enough for a scraper, and small enough
//! that it needs no HTTP server crate.

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
}
