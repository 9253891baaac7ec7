//! The Prometheus text endpoint: any HTTP request on the metrics address gets the current metrics (the same
//! minimal server as the capture proxy's; no routing, one response per connection).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use crate::error::{Error, Result};
use crate::metrics::Metrics;

/// Serves `metrics` on `addr` until the returned task is aborted.
pub(crate) async fn metrics(addr: &str, metrics: Arc<Metrics>) -> Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(addr).await.map_err(|source| Error::Io {
        op: "bind the metrics address",
        path: addr.into(),
        source,
    })?;
    if let Ok(local) = listener.local_addr() {
        tracing::info!(%local, "replay metrics endpoint");
    }
    Ok(tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                let read_head = async {
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return false,
                            Ok(n) => request.extend_from_slice(buf.get(..n).unwrap_or_default()),
                        }
                    }
                    true
                };
                if !matches!(tokio::time::timeout(Duration::from_secs(5), read_head).await, Ok(true)) {
                    return;
                }
                let body = metrics.render();
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    }))
}
