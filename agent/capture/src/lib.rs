//! The capture proxy: listens where clients send their Elasticsearch/OpenSearch traffic, forwards every byte
//! unchanged to the source cluster over one upstream connection per client connection, and records each
//! request/response exchange as `TrafficStream` records.
//!
//! The request path never waits for capture: observations go through a bounded queue to a writer thread, and
//! when that queue is full whole requests are left out of the capture (marked `requestDropped`, counted per
//! reason, logged) rather than slowing a client down. HTTP/1.1 framing (see `ferry_traffic::http1`) only finds
//! message boundaries; bodies stream through in fixed-size buffers, so a 50 MB bulk request costs 64 KiB.
#![deny(missing_docs)]

mod config;
mod error;
mod kafka_sink;
mod metrics;
mod proxy;
mod recorder;
mod run;
mod sink;
mod suppress;
mod tls;

pub use config::{CaptureConfig, Config, FsyncSetting, SuppressRule, TlsListenerConfig, UpstreamTlsConfig};
pub use error::{Error, Result};
pub use ferry_kafka::KafkaConfig;
pub use metrics::Metrics;
pub use proxy::{Proxy, RunningProxy};
pub use run::run_until;
