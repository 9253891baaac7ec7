//! The roles an agent can run. Each is a variant holding its own configuration type; adding one is a section in
//! `AgentConfig`, a variant here, and an arm in each `match` (the compiler lists them).

use std::future::Future;

use tokio::sync::mpsc;

/// A role enabled by the configuration, ready to run.
#[derive(Debug)]
pub enum Role {
    /// The capture proxy (`[capture]`).
    Capture(Box<ferry_capture::Config>),
    /// The replayer (`[replay]`). A daemon always follows its source: draining it is not a reason to stop.
    Replay(Box<ferry_replay::Config>),
}

/// Tells the supervisor that a role is serving (all of them serving is systemd's `READY=1`).
pub struct Ready {
    role: &'static str,
    tx: mpsc::UnboundedSender<&'static str>,
}

impl Ready {
    /// A readiness report for `role` sent to `tx`.
    pub fn new(role: &'static str, tx: mpsc::UnboundedSender<&'static str>) -> Ready {
        Ready { role, tx }
    }

    fn announce(self) {
        // The supervisor only stops listening once it is shutting down, when readiness no longer matters.
        let _ = self.tx.send(self.role);
    }
}

impl Role {
    /// The section name, used in logs and problem reports.
    pub fn name(&self) -> &'static str {
        match self {
            Role::Capture(_) => "capture",
            Role::Replay(_) => "replay",
        }
    }

    /// Problems found without opening sockets or files, each prefixed with its full key in the agent's file.
    pub fn validate(&self) -> Vec<String> {
        match self {
            Role::Capture(config) => match config.validate() {
                Ok(()) => Vec::new(),
                Err(ferry_capture::Error::Config { problems }) => {
                    problems.into_iter().map(|p| format!("capture.{p}")).collect()
                }
                Err(other) => vec![format!("capture: {other}")],
            },
            Role::Replay(config) => match config.validate() {
                Ok(()) => Vec::new(),
                Err(error) => vec![format!("replay: {error}")],
            },
        }
    }

    /// Runs the role: it reports `ready` once serving, and returns after `shutdown` completes and it has drained.
    /// An error means it could not start or stopped working.
    pub async fn run(self, ready: Ready, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        match self {
            Role::Capture(config) => {
                let announce = |proxy: &ferry_capture::RunningProxy| {
                    tracing::info!(
                        role = ready.role,
                        listen = %proxy.local_addr(),
                        metrics = ?proxy.metrics_addr(),
                        "role ready"
                    );
                    ready.announce();
                };
                ferry_capture::run_until(*config, announce, shutdown).await?;
            }
            Role::Replay(mut config) => {
                config.follow = true;
                let replay = ferry_replay::Replay::new(*config)?;
                tracing::info!(role = ready.role, "role ready");
                ready.announce();
                let summary = replay.run(shutdown).await?;
                tracing::info!(?summary, "replay stopped");
            }
        }
        Ok(())
    }
}
