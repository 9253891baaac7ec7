//! Kafka for captured traffic: the one crate that talks to librdkafka.
//!
//! - [`KafkaConfig`]: brokers, topic, optional TLS and SASL, and raw librdkafka `properties` for experts (and for
//!   brokers with quirks). The same section configures the capture proxy and the replayer.
//! - [`Producer`]: the capture proxy's idempotent producer (`acks=all`, at most 5 requests in flight, zstd,
//!   key = connection id). `send` never blocks; delivery reports come back from [`Producer::poll`] tagged with
//!   the caller's token, so the caller decides what an unacknowledged record means.
//! - [`KafkaRecords`]: the replayer's consumer: a consumer group that starts at the earliest offset when the group
//!   has none, never commits by itself, and reports partition assignment changes so revoked partitions are never
//!   committed after a rebalance.
//!
//! Both are synchronous (librdkafka runs its own network threads); callers that live in an async runtime wrap
//! them in a blocking thread. Secrets never reach logs or `Debug` output.
#![deny(missing_docs)]

mod config;
mod consumer;
mod error;
mod logging;
mod producer;

pub use config::{KafkaConfig, KafkaSasl, KafkaTls};
pub use consumer::{AssignmentChange, KafkaRecord, KafkaRecords};
pub use error::{Error, Result};
pub use ferry_ops::Secret;
pub use producer::{Delivered, Delivery, Producer};
