//! The replay's configuration: TOML with unknown keys rejected; every option but the source, the target and
//! the results file has a default.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferry_client::ClusterConfig;
use ferry_kafka::KafkaConfig;
use ferry_replay_compare::CompareConfig;
use ferry_replay_transform::RuleConfig;
use serde::Deserialize;

use crate::error::{io, Error, Result};

/// Everything a replay needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where captured records come from.
    pub source: SourceConfig,
    /// The cluster requests are replayed against.
    pub target: ClusterConfig,
    /// The results file: one JSON line per replayed request (appended to, so a resumed run adds to it).
    pub results: PathBuf,
    /// Holds `checkpoint.json`, `dead-letters.ndjson` and `sent.ndjson`. Default: `<log dir>.replay-state`
    /// beside a local log; required for Kafka.
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    /// Keep reading when the source is drained, waiting for new records. Default: false (exit when drained).
    #[serde(default)]
    pub follow: bool,
    /// The captured time between requests is divided by this factor. Default: 1.0 (original pace).
    #[serde(default = "default_speedup")]
    pub speedup: f64,
    /// Ignore the captured timing and send as soon as order and limits allow (catch-up). Default: false.
    #[serde(default)]
    pub as_fast_as_possible: bool,
    /// Hold a request until every request whose captured response ended before it began has been answered by
    /// the target, on whatever connection. Turn off only when connections are known to be
    /// independent, to replay faster than the source's own concurrency allows. Default: true.
    #[serde(default = "default_causal_order")]
    pub causal_order: bool,
    /// Requests being sent at once, over all connections. Default: 64.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// Bytes of requests and captured responses waiting to be replayed; reading pauses above it. Default:
    /// 256 MiB.
    #[serde(default = "default_max_buffered_bytes")]
    pub max_buffered_bytes: u64,
    /// Sends per request, the first included, when the target cannot be reached or throttles. Default: 5.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// First retry wait cap in milliseconds; it doubles per attempt (full jitter), up to 30 s. Default: 200.
    #[serde(default = "default_retry_base_ms")]
    pub retry_base_ms: u64,
    /// A connection whose latest record is this many seconds (of captured time) older than the newest record
    /// read is expired: its unfinished request is dropped and counted, so it cannot hold the checkpoint back.
    /// Default: 300.
    #[serde(default = "default_idle_timeout")]
    pub connection_idle_timeout_secs: f64,
    /// Seconds between checkpoints (results are flushed before each). Default: 1.
    #[serde(default = "default_checkpoint_interval")]
    pub checkpoint_interval_secs: f64,
    /// Serve Prometheus metrics on this address (e.g. `127.0.0.1:9465`). Default: none.
    #[serde(default)]
    pub metrics_listen: Option<String>,
    /// Request transformations, applied in order (`[[transform]]` tables).
    #[serde(default)]
    pub transform: Vec<RuleConfig>,
    /// How responses are compared (`[compare]`).
    #[serde(default)]
    pub compare: CompareConfig,
}

/// Where records come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum SourceConfig {
    /// A local capture log directory (what `ferry capture --log` writes).
    Log {
        /// The log directory.
        dir: PathBuf,
    },
    /// A Kafka topic of captured traffic, read as a member of a consumer group (`[source.kafka]` holds the
    /// brokers, topic, TLS, SASL and librdkafka properties). Replayers in one group share the partitions.
    Kafka {
        /// How to reach the topic.
        kafka: Box<KafkaConfig>,
        /// The consumer group, whose committed offsets are the replay's resume points. Default: `ferry-replay`.
        #[serde(default = "default_group")]
        group: String,
    },
}

/// The consumer group of replayers when none is named.
pub const DEFAULT_GROUP: &str = "ferry-replay";

fn default_group() -> String {
    DEFAULT_GROUP.to_string()
}

fn default_speedup() -> f64 {
    1.0
}
fn default_max_in_flight() -> usize {
    64
}
fn default_max_buffered_bytes() -> u64 {
    256 << 20
}
fn default_max_attempts() -> u32 {
    5
}
fn default_retry_base_ms() -> u64 {
    200
}
fn default_causal_order() -> bool {
    true
}

fn default_idle_timeout() -> f64 {
    300.0
}
fn default_checkpoint_interval() -> f64 {
    1.0
}

impl Config {
    /// A configuration replaying the log in `log_dir` into `target`, results to `results`, every other option
    /// at its default.
    pub fn new(log_dir: impl Into<PathBuf>, target: ClusterConfig, results: impl Into<PathBuf>) -> Config {
        Config::with_source(SourceConfig::Log { dir: log_dir.into() }, target, results)
    }

    /// A configuration replaying `source` into `target`, results to `results`, every other option at its
    /// default (a Kafka source also needs [`Config::state_dir`] set).
    pub fn with_source(source: SourceConfig, target: ClusterConfig, results: impl Into<PathBuf>) -> Config {
        Config {
            source,
            target,
            results: results.into(),
            state_dir: None,
            follow: false,
            speedup: default_speedup(),
            as_fast_as_possible: false,
            causal_order: default_causal_order(),
            max_in_flight: default_max_in_flight(),
            max_buffered_bytes: default_max_buffered_bytes(),
            max_attempts: default_max_attempts(),
            retry_base_ms: default_retry_base_ms(),
            connection_idle_timeout_secs: default_idle_timeout(),
            checkpoint_interval_secs: default_checkpoint_interval(),
            metrics_listen: None,
            transform: Vec::new(),
            compare: CompareConfig::default(),
        }
    }

    /// Reads a TOML configuration file.
    pub fn from_file(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(io("read", path))?;
        toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
    }

    /// Every problem with the values, at once.
    pub fn validate(&self) -> Result<()> {
        let mut problems = Vec::new();
        if !(self.speedup.is_finite() && self.speedup > 0.0) {
            problems.push(format!("speedup must be a positive number, not {}", self.speedup));
        }
        if self.max_in_flight == 0 {
            problems.push("max_in_flight must be at least 1".to_string());
        }
        if self.max_buffered_bytes < 1024 {
            problems.push("max_buffered_bytes must be at least 1024".to_string());
        }
        if self.max_attempts == 0 {
            problems.push("max_attempts must be at least 1".to_string());
        }
        for (name, secs) in [
            ("connection_idle_timeout_secs", self.connection_idle_timeout_secs),
            ("checkpoint_interval_secs", self.checkpoint_interval_secs),
        ] {
            if Duration::try_from_secs_f64(secs).map_or(true, |d| d.is_zero()) {
                problems.push(format!("{name} must be a positive number of seconds, not {secs}"));
            }
        }
        if let SourceConfig::Kafka { kafka, group } = &self.source {
            if self.state_dir.is_none() {
                problems.push(
                    "state_dir is required with a Kafka source (it holds the dead letters and the sent journal)"
                        .to_string(),
                );
            }
            if group.is_empty() {
                problems.push("source.group must not be empty".to_string());
            }
            problems.extend(kafka.problems().into_iter().map(|p| format!("source.kafka: {p}")));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Config(problems.join("; ")))
        }
    }

    /// The state directory: the configured one, or `<log dir>.replay-state`. A Kafka source has no place of its
    /// own ([`Config::validate`] requires one to be configured); unvalidated, it falls back to
    /// `<topic>.<group>.replay-state` in the working directory.
    pub fn state_dir(&self) -> PathBuf {
        if let Some(dir) = &self.state_dir {
            return dir.clone();
        }
        match &self.source {
            SourceConfig::Log { dir } => {
                let mut name = dir.as_os_str().to_owned();
                name.push(".replay-state");
                PathBuf::from(name)
            }
            SourceConfig::Kafka { kafka, group } => PathBuf::from(format!("{}.{group}.replay-state", kafka.topic)),
        }
    }

    pub(crate) fn idle_timeout(&self) -> Duration {
        Duration::try_from_secs_f64(self.connection_idle_timeout_secs).unwrap_or(Duration::from_secs(300))
    }

    pub(crate) fn checkpoint_interval(&self) -> Duration {
        Duration::try_from_secs_f64(self.checkpoint_interval_secs).unwrap_or(Duration::from_secs(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_file_gets_defaults_and_unknown_keys_are_refused() {
        let config: Config = toml::from_str(
            "results = \"r.ndjson\"\n[source]\ntype = \"log\"\ndir = \"/cap\"\n[target]\nurl = \"http://h:9200\"\n",
        )
        .unwrap();
        assert_eq!(config.speedup, 1.0);
        assert_eq!(config.max_in_flight, 64);
        assert_eq!(config.state_dir(), PathBuf::from("/cap.replay-state"));
        config.validate().unwrap();
        let err = toml::from_str::<Config>(
            "results = \"r\"\nspeed = 2\n[source]\ntype = \"log\"\ndir = \"/c\"\n[target]\nurl = \"http://h\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("speed"), "{err}");
    }

    #[test]
    fn validation_reports_every_problem() {
        let mut config = Config::new("/cap", ClusterConfig::new("http://h"), "r");
        config.speedup = 0.0;
        config.max_in_flight = 0;
        config.checkpoint_interval_secs = -1.0;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("speedup") && err.contains("max_in_flight") && err.contains("checkpoint"), "{err}");
    }

    #[test]
    fn a_kafka_source_parses_with_the_default_group_and_needs_a_state_dir() {
        let text = "results = \"r\"\n[source]\ntype = \"kafka\"\n[source.kafka]\nbrokers = \"127.0.0.1:9092\"\n\
                    topic = \"captured\"\n[target]\nurl = \"http://h\"\n";
        let mut config: Config = toml::from_str(text).unwrap();
        let SourceConfig::Kafka { kafka, group } = &config.source else { panic!("not Kafka: {:?}", config.source) };
        assert_eq!((kafka.topic.as_str(), group.as_str()), ("captured", DEFAULT_GROUP));
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("state_dir is required"), "{err}");
        config.state_dir = Some(PathBuf::from("/var/lib/ferry/replay"));
        config.validate().unwrap();
        config.source = SourceConfig::Kafka {
            kafka: Box::new(KafkaConfig::new("127.0.0.1:9092", "no spaces")),
            group: String::new(),
        };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("source.group") && err.contains("source.kafka: topic"), "{err}");
    }
}
