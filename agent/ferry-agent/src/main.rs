//! `ferry-agent`: the daemon that runs on every source node. Its configuration (`/etc/ferry/agent.toml`) enables
//! roles by section — `[capture]` runs the capture proxy — and systemd runs it as `ferry-agent.service`
//! (`Type=notify`). `main` parses arguments, sets up logging, loads the configuration and hands the roles to the
//! supervisor.
//!
//! Exit codes: 0 after a graceful stop (SIGTERM/SIGINT) or a passing `--check`; 1 when a role failed (systemd
//! restarts the unit); 2 when the command line or the configuration is invalid.

mod config;
mod notify;
mod roles;
mod supervisor;

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// The exit code for an invalid command line or configuration (clap uses it for usage errors too).
const EXIT_CONFIG: u8 = 2;

#[derive(Parser)]
#[command(name = "ferry-agent", version, about = "The Ferry node daemon: runs the roles its configuration enables")]
struct Args {
    /// The agent's TOML configuration; each section enables a role (`[capture]`).
    #[arg(long, short, default_value = "/etc/ferry/agent.toml")]
    config: PathBuf,
    /// Validate the configuration, print the roles it enables and exit; every problem is listed.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    init_logging();
    let args = Args::parse();
    let roles = match config::AgentConfig::load(&args.config) {
        Ok(roles) => roles,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let names: Vec<&str> = roles.iter().map(roles::Role::name).collect();
    if args.check {
        println!("{}: OK (roles: {})", args.config.display(), names.join(", "));
        return ExitCode::SUCCESS;
    }
    tracing::info!(config = %args.config.display(), roles = %names.join(","), version = env!("CARGO_PKG_VERSION"), "ferry-agent starting");
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(supervisor::run(roles)));
    match result {
        Ok(()) => {
            tracing::info!("ferry-agent stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "ferry-agent is exiting after a failure");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, filtered by `FERRY_LOG` (default `info`: a daemon's lifecycle belongs in the journal). Colours
/// only on a terminal, and no timestamps when stderr is the journal (`JOURNAL_STREAM`), which stamps lines itself.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERRY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter);
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        builder.without_time().init();
    } else {
        builder.init();
    }
}
