//! The proxy's configuration: a TOML file (`deny_unknown_fields`, every option's default documented) or the
//! equivalent command-line flags.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};

/// Everything the capture proxy needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address clients connect to, e.g. `0.0.0.0:9200`. Required.
    pub listen: String,
    /// The source cluster, `http://host:port` or `https://host:port`. Required.
    pub upstream: String,
    /// Serve clients over TLS. Default: plain TCP.
    #[serde(default)]
    pub tls: Option<TlsListenerConfig>,
    /// How the upstream's certificate is checked when `upstream` is https. Default: the Mozilla roots.
    #[serde(default)]
    pub upstream_tls: UpstreamTlsConfig,
    /// Where and how captured traffic is recorded.
    pub capture: CaptureConfig,
    /// Requests matching any of these are forwarded but not captured.
    #[serde(default)]
    pub suppress: Vec<SuppressRule>,
    /// Header names whose values are masked (same length, `*`) in the capture. Default: `authorization`,
    /// `proxy-authorization`, `cookie`.
    #[serde(default = "default_redact")]
    pub redact_headers: Vec<String>,
    /// Prometheus metrics endpoint (`GET /metrics`), e.g. `127.0.0.1:9464`. Default: off.
    #[serde(default)]
    pub metrics_listen: Option<String>,
    /// How long in-flight connections may finish after SIGTERM before they are cut. Default 10 s.
    #[serde(default = "default_grace", with = "secs")]
    pub shutdown_grace: Duration,
}

/// A TLS listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsListenerConfig {
    /// PEM certificate chain served to clients.
    pub cert: PathBuf,
    /// PEM private key of that certificate.
    pub key: PathBuf,
    /// When set, clients must present a certificate signed by this PEM CA.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
}

/// Trust for an https upstream.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamTlsConfig {
    /// PEM CA that signed the upstream's certificate. Default: the Mozilla roots.
    #[serde(default)]
    pub ca: Option<PathBuf>,
}

/// The capture pipeline.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureConfig {
    /// Directory of the capture log. Required.
    pub log_dir: PathBuf,
    /// Name recorded as `nodeId` in every record. Default: `ferry-` and the process id and start time.
    #[serde(default)]
    pub node_id: Option<String>,
    /// Bytes of records that may wait for the writer before requests are dropped from the capture. Default
    /// 64 MiB.
    #[serde(default = "default_queue_bytes")]
    pub queue_bytes: usize,
    /// Target record size; bigger reads and writes are split. Default 1 MiB, as the reference proxy.
    #[serde(default = "default_record_bytes")]
    pub record_bytes: usize,
    /// Segment size of the log. Default 64 MiB.
    #[serde(default = "default_segment_bytes")]
    pub segment_bytes: u64,
    /// Delete the oldest segments beyond this total. With `kafka`, the size limit of the spill instead: records
    /// that would grow it further are dropped (`spill_full`), and undrained records are never deleted. Default:
    /// keep all.
    #[serde(default)]
    pub retention_bytes: Option<u64>,
    /// Delete segments older than this many seconds. Not allowed with `kafka` (it would delete undrained
    /// records). Default: keep all.
    #[serde(default)]
    pub retention_secs: Option<u64>,
    /// `always`, `never`, or a number of seconds between fsyncs. Default: `1` (seconds).
    #[serde(default)]
    pub fsync: FsyncSetting,
    /// zstd level of log frames: 1 is fast and still shrinks JSON several-fold; negative levels (down to -7)
    /// trade size for CPU on write-heavy nodes, higher ones the reverse. Default 1.
    #[serde(default = "default_zstd_level")]
    pub zstd_level: i32,
    /// Send records to Kafka (`[capture.kafka]`), with the log in `log_dir` as the spill buffer while Kafka is
    /// slow or down (a record unacknowledged after librdkafka's `message.timeout.ms`, Ferry default 10 s, or a
    /// full producer queue); the spill is drained in order once Kafka is back. Records larger than the topic's
    /// `max.message.bytes` are rejected by the broker (`sink_error`): keep `record_bytes` below it. Default: the
    /// local log only.
    #[serde(default)]
    pub kafka: Option<ferry_kafka::KafkaConfig>,
}

/// The fsync policy as written in the configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum FsyncSetting {
    /// `always` or `never`.
    Named(String),
    /// Seconds between fsyncs.
    Seconds(f64),
}

impl Default for FsyncSetting {
    fn default() -> FsyncSetting {
        FsyncSetting::Seconds(1.0)
    }
}

/// A request that is forwarded but not captured when every field that is set matches.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuppressRule {
    /// Request method, e.g. `GET` (case-insensitive).
    #[serde(default)]
    pub method: Option<String>,
    /// Regular expression matched against the request target (path and query).
    #[serde(default)]
    pub path: Option<String>,
    /// Header name that must be present (case-insensitive).
    #[serde(default)]
    pub header: Option<String>,
    /// Regular expression the value of `header` must match. Default: any value.
    #[serde(default)]
    pub header_value: Option<String>,
}

fn default_redact() -> Vec<String> {
    vec!["authorization".into(), "proxy-authorization".into(), "cookie".into()]
}
fn default_grace() -> Duration {
    Duration::from_secs(10)
}
fn default_zstd_level() -> i32 {
    ferry_capture_log::LogConfig::default().zstd_level
}
fn default_queue_bytes() -> usize {
    64 * 1024 * 1024
}
fn default_record_bytes() -> usize {
    ferry_traffic::MAX_RECORD_BYTES
}
fn default_segment_bytes() -> u64 {
    64 * 1024 * 1024
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

impl Config {
    /// A configuration with defaults for everything but the three required settings.
    pub fn new(listen: &str, upstream: &str, log_dir: &Path) -> Config {
        Config {
            listen: listen.to_string(),
            upstream: upstream.to_string(),
            tls: None,
            upstream_tls: UpstreamTlsConfig::default(),
            capture: CaptureConfig {
                log_dir: log_dir.to_path_buf(),
                node_id: None,
                queue_bytes: default_queue_bytes(),
                record_bytes: default_record_bytes(),
                segment_bytes: default_segment_bytes(),
                retention_bytes: None,
                retention_secs: None,
                fsync: FsyncSetting::default(),
                zstd_level: default_zstd_level(),
                kafka: None,
            },
            suppress: Vec::new(),
            redact_headers: default_redact(),
            metrics_listen: None,
            shutdown_grace: default_grace(),
        }
    }

    /// Reads and validates a TOML configuration file.
    pub fn from_file(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::File { path: path.to_path_buf(), source })?;
        let config: Config =
            toml::from_str(&text).map_err(|e| Error::Config { problems: vec![format!("{}: {e}", path.display())] })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks everything that can be checked without opening sockets, reporting all problems at once.
    pub fn validate(&self) -> Result<()> {
        let mut problems = Vec::new();
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            problems.push(format!("listen: {:?} is not an IP:port address", self.listen));
        }
        if let Err(e) = crate::proxy::Upstream::parse(&self.upstream) {
            problems.push(format!("upstream: {e}"));
        }
        if let Some(m) = &self.metrics_listen {
            if m.parse::<std::net::SocketAddr>().is_err() {
                problems.push(format!("metrics_listen: {m:?} is not an IP:port address"));
            }
        }
        if let Err(e) = self.capture.fsync_policy() {
            problems.push(format!("capture.fsync: {e}"));
        }
        if self.capture.record_bytes < 1024 || self.capture.record_bytes > ferry_capture_log::frame::MAX_PAYLOAD / 2 {
            problems.push(format!("capture.record_bytes: {} is outside 1 KiB ..= 32 MiB", self.capture.record_bytes));
        }
        if self.capture.queue_bytes < self.capture.record_bytes {
            problems.push("capture.queue_bytes: must hold at least one record (record_bytes)".to_string());
        }
        if let Some(kafka) = &self.capture.kafka {
            problems.extend(kafka.problems().into_iter().map(|p| format!("capture.kafka.{p}")));
            if self.capture.retention_secs.is_some() {
                problems.push(
                    "capture.retention_secs: not allowed with capture.kafka (the spill keeps undrained records)"
                        .to_string(),
                );
            }
        }
        for (i, rule) in self.suppress.iter().enumerate() {
            if let Err(e) = crate::suppress::Rule::compile(rule) {
                problems.push(format!("suppress[{i}]: {e}"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Config { problems })
        }
    }
}

impl CaptureConfig {
    /// The log writer settings this configuration describes.
    pub fn log_config(&self) -> std::result::Result<ferry_capture_log::LogConfig, String> {
        Ok(ferry_capture_log::LogConfig {
            segment_bytes: self.segment_bytes,
            retention_bytes: self.retention_bytes,
            retention_age: self.retention_secs.map(Duration::from_secs),
            fsync: self.fsync_policy()?,
            zstd_level: self.zstd_level,
        })
    }

    fn fsync_policy(&self) -> std::result::Result<ferry_capture_log::FsyncPolicy, String> {
        use ferry_capture_log::FsyncPolicy;
        match &self.fsync {
            FsyncSetting::Named(n) if n == "always" => Ok(FsyncPolicy::Always),
            FsyncSetting::Named(n) if n == "never" => Ok(FsyncPolicy::Never),
            FsyncSetting::Named(n) => Err(format!("{n:?} is not `always`, `never` or a number of seconds")),
            FsyncSetting::Seconds(s) => {
                Duration::try_from_secs_f64(*s).map(FsyncPolicy::Interval).map_err(|e| format!("{s} seconds: {e}"))
            }
        }
    }
}
