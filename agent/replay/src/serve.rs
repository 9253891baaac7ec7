//! The Prometheus text endpoint of the replayer (the same one the capture proxy serves, from `ferry-ops`).

use std::sync::Arc;

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
    Ok(ferry_ops::metrics_endpoint::serve(listener, move || metrics.render()))
}
