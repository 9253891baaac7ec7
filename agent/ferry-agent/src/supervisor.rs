//! Runs every role as its own task with one shared stop signal. SIGTERM or SIGINT stops all of them gracefully;
//! a role that fails (or ends without being asked to) stops the others gracefully too, and the agent then exits
//! non-zero so systemd restarts it. systemd hears `READY=1` once every role is serving and `STOPPING=1` when the
//! drain begins.

use anyhow::Context as _;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::notify::notify;
use crate::roles::{Ready, Role};

/// Runs `roles` until a signal or a failure, then drains them all. `Err` when any role failed.
pub async fn run(roles: Vec<Role>) -> anyhow::Result<()> {
    // Installed before any role starts, so a signal sent as soon as a role is reachable is not fatal.
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let (stop, stopped) = watch::channel(false);
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let mut tasks = JoinSet::new();
    for role in roles {
        let name = role.name();
        let ready = Ready::new(name, ready_tx.clone());
        let mut stopped = stopped.clone();
        let shutdown = async move {
            // An error means the sender is gone, which only happens once the supervisor itself is finished.
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        tasks.spawn(async move { (name, role.run(ready, shutdown).await) });
    }
    drop(ready_tx);
    let (total, mut serving) = (tasks.len(), 0);
    let mut failed = 0;
    loop {
        tokio::select! {
            _ = term.recv() => {
                tracing::info!("SIGTERM: stopping every role");
                break;
            }
            _ = int.recv() => {
                tracing::info!("SIGINT: stopping every role");
                break;
            }
            Some(_) = ready_rx.recv() => {
                serving += 1;
                if serving == total {
                    tracing::info!(roles = total, "every role is serving");
                    notify("READY=1");
                }
            }
            Some(joined) = tasks.join_next() => {
                // Before a stop was asked for, a role that returns at all has failed, even with `Ok`.
                if !report(joined, true) {
                    failed += 1;
                }
                break;
            }
        }
    }
    notify("STOPPING=1");
    // Only errors when every receiver is gone, i.e. every role has already returned.
    let _ = stop.send(true);
    while let Some(joined) = tasks.join_next().await {
        if !report(joined, false) {
            failed += 1;
        }
    }
    anyhow::ensure!(failed == 0, "{failed} of {total} roles failed");
    Ok(())
}

/// Logs how a role task ended; `true` when it ended well. `early` is a return before any stop was asked for.
fn report(joined: Result<(&'static str, anyhow::Result<()>), tokio::task::JoinError>, early: bool) -> bool {
    match joined {
        Ok((role, Ok(()))) if early => {
            tracing::error!(role, "role stopped without being asked to");
            false
        }
        Ok((role, Ok(()))) => {
            tracing::info!(role, "role stopped");
            true
        }
        Ok((role, Err(e))) => {
            tracing::error!(role, error = %format!("{e:#}"), "role failed");
            false
        }
        Err(e) => {
            tracing::error!(error = %e, "a role task panicked or was cancelled");
            false
        }
    }
}
