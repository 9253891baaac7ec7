//! The proxy's whole life in one call, shared by the one-off `ferry capture` command and the `ferry-agent`
//! daemon's `capture` role: start, report readiness, serve until told to stop, then drain and flush.

use std::future::Future;

use crate::config::Config;
use crate::error::Result;
use crate::proxy::{Proxy, RunningProxy};

/// Validates `config`, starts the proxy, calls `ready` once it is listening (with the bound addresses, useful
/// when the configured port was 0), and serves until `shutdown` completes. Then it stops accepting, lets open
/// connections finish within `shutdown_grace`, and returns once every captured record is in the log and
/// fsynced.
///
/// Create `shutdown` before calling (e.g. from signal streams already installed), so a stop request that arrives
/// while the proxy is starting is not lost. An error means the proxy never started: the configuration is invalid,
/// a socket cannot be bound, TLS material or the capture log cannot be opened.
pub async fn run_until<R, S>(config: Config, ready: R, shutdown: S) -> Result<()>
where
    R: FnOnce(&RunningProxy),
    S: Future<Output = ()>,
{
    let running = Proxy::new(config)?.start().await?;
    ready(&running);
    shutdown.await;
    tracing::info!("stopping the capture proxy: draining connections and flushing the capture log");
    running.shutdown().await;
    Ok(())
}
