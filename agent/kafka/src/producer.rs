//! The capture proxy's producer: idempotent, `acks=all`, bounded in flight, zstd, keyed by connection id, with
//! delivery reports handed back to the caller.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer as _, ProducerContext};

use crate::config::KafkaConfig;
use crate::error::{Error, Result};

/// Ferry's producer settings; [`KafkaConfig::properties`] override them.
const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    // Retries can neither duplicate nor reorder records of a partition (that is, of a connection).
    ("enable.idempotence", "true"),
    ("acks", "all"),
    ("max.in.flight.requests.per.connection", "5"),
    ("compression.type", "zstd"),
    // librdkafka's 300 s default would hold undeliverable records in memory for five minutes; the capture
    // sink spills them to disk instead.
    ("message.timeout.ms", "10000"),
    // Records are up to 32 MiB (the capture's record size limit); the topic's own limit is the one that counts.
    ("message.max.bytes", "34603008"),
    // librdkafka's 1 GiB default is far more memory than a sidecar should hold for a slow broker.
    ("queue.buffering.max.kbytes", "65536"),
];

/// Where an acknowledged record went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// The partition.
    pub partition: i32,
    /// The record's offset in it.
    pub offset: i64,
}

/// The outcome of one [`Producer::send`], identified by the token the caller gave.
#[derive(Debug)]
pub struct Delivery {
    /// The caller's token.
    pub token: usize,
    /// Acknowledged by all in-sync replicas, or failed for good (after librdkafka's own retries).
    pub result: Result<Delivered>,
}

/// Collects delivery reports while [`Producer::poll`] runs.
struct Reports {
    done: Mutex<Vec<Delivery>>,
}

impl ClientContext for Reports {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        crate::logging::log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        crate::logging::error(&error, reason);
    }
}

impl ProducerContext for Reports {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, token: usize) {
        let result = match result {
            Ok(message) => Ok(Delivered { partition: message.partition(), offset: message.offset() }),
            Err((error, _)) => Err(Error::Kafka { op: "deliver", source: error.clone() }),
        };
        self.done.lock().unwrap_or_else(PoisonError::into_inner).push(Delivery { token, result });
    }
}

/// An idempotent producer to the configured topic. `send` never blocks; [`Producer::poll`] must be called
/// regularly to collect delivery reports. Not `Sync`-shared by design: one sink thread owns it.
pub struct Producer {
    inner: BaseProducer<Reports>,
    topic: String,
}

impl Producer {
    /// Creates the producer (no network I/O yet: librdkafka connects in the background).
    pub fn new(config: &KafkaConfig) -> Result<Producer> {
        config.validate()?;
        let reports = Reports { done: Mutex::new(Vec::new()) };
        let inner = config
            .client_config(PRODUCER_DEFAULTS)
            .create_with_context(reports)
            .map_err(Error::kafka("create producer"))?;
        tracing::debug!(brokers = %config.brokers, topic = %config.topic, "Kafka producer created");
        Ok(Producer { inner, topic: config.topic.clone() })
    }

    /// Queues `value` under `key`; its [`Delivery`] will carry `token`. Fails at once when the local queue is
    /// full ([`Error::is_queue_full`]) or the record can never be sent ([`Error::is_permanent`]).
    pub fn send(&self, key: &[u8], value: &[u8], token: usize) -> Result<()> {
        let record = BaseRecord::with_opaque_to(&self.topic, token).key(key).payload(value);
        self.inner.send(record).map_err(|(source, _)| Error::Kafka { op: "send", source })
    }

    /// Serves librdkafka's events for up to `timeout` (zero: only what is ready) and returns the deliveries
    /// completed since the last call.
    pub fn poll(&self, timeout: Duration) -> Vec<Delivery> {
        self.inner.poll(timeout);
        std::mem::take(&mut *self.inner.context().done.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Records sent whose delivery has not been reported yet (queued, in flight, or reported but not polled).
    pub fn in_flight(&self) -> usize {
        usize::try_from(self.inner.in_flight_count()).unwrap_or(0)
    }

    /// Waits up to `timeout` for every queued record to be delivered or to fail; collect the reports with
    /// [`Producer::poll`] afterwards.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        self.inner.flush(timeout).map_err(Error::kafka("flush"))
    }

    /// An unrecoverable producer error (the idempotence state is lost); the producer must be replaced.
    pub fn fatal_error(&self) -> Option<String> {
        self.inner.client().fatal_error().map(|(code, reason)| format!("{code}: {reason}"))
    }

    /// The topic records go to.
    pub fn topic(&self) -> &str {
        &self.topic
    }
}
