//! Counters and gauges of the proxy, rendered in the Prometheus text format.
//!
//! Names (all prefixed `ferry_capture_`): `connections_total`, `connections_active`, `requests_total`,
//! `client_bytes_total` (client → upstream), `upstream_bytes_total` (upstream → client), `upstream_errors_total`,
//! `records_total`, `record_bytes_total`, `queue_bytes`, `lag_seconds` (time from a record's last observation
//! to its append to the log or its acknowledgement by Kafka, last value), `log_bytes` (size of the capture log /
//! spill on disk), `dropped_requests_total{reason}` (`queue_full`, `suppressed`, `sink_error`, `spill_full`).
//! With Kafka: `kafka_sent_total` (records acknowledged, drained ones included), `kafka_failed_total` (sends
//! and deliveries that failed; the records went to the spill), `spill_records_total` (records written to the
//! spill), `spill_bytes` (spill bytes not yet acknowledged by Kafka), `spilling` (1 while records go to the spill).

use std::sync::atomic::{AtomicU64, Ordering};

use ferry_ops::metrics_endpoint::Exposition;

/// Why a request is missing from the capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The writer could not keep up and the queue was full.
    QueueFull,
    /// A suppression rule matched.
    Suppressed,
    /// The sink failed to store a record.
    SinkError,
    /// Kafka was unavailable and the spill log reached its size limit (`retention_bytes`).
    SpillFull,
}

impl DropReason {
    const ALL: [DropReason; 4] =
        [DropReason::QueueFull, DropReason::Suppressed, DropReason::SinkError, DropReason::SpillFull];

    fn label(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::Suppressed => "suppressed",
            DropReason::SinkError => "sink_error",
            DropReason::SpillFull => "spill_full",
        }
    }
}

/// The proxy's metrics. Cheap to update from any task (relaxed atomics).
#[derive(Debug, Default)]
pub struct Metrics {
    pub(crate) connections_total: AtomicU64,
    pub(crate) connections_active: AtomicU64,
    pub(crate) requests_total: AtomicU64,
    pub(crate) client_bytes: AtomicU64,
    pub(crate) upstream_bytes: AtomicU64,
    pub(crate) upstream_errors: AtomicU64,
    pub(crate) records: AtomicU64,
    pub(crate) record_bytes: AtomicU64,
    pub(crate) queue_bytes: AtomicU64,
    pub(crate) lag_micros: AtomicU64,
    pub(crate) log_bytes: AtomicU64,
    pub(crate) kafka_sent: AtomicU64,
    pub(crate) kafka_failed: AtomicU64,
    pub(crate) spill_records: AtomicU64,
    pub(crate) spill_bytes: AtomicU64,
    pub(crate) spilling: AtomicU64,
    dropped: [AtomicU64; 4],
}

impl Metrics {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn dropped(&self, reason: DropReason, requests: u64) {
        if let Some(c) = self.dropped.get(reason as usize) {
            c.fetch_add(requests, Ordering::Relaxed);
        }
    }

    /// Requests left out of the capture for `reason` so far.
    pub fn dropped_requests(&self, reason: DropReason) -> u64 {
        self.dropped.get(reason as usize).map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Complete requests forwarded so far.
    pub fn requests(&self) -> u64 {
        self.requests_total.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut text = Exposition::new("ferry_capture_");
        text.metric(
            "connections_total",
            "counter",
            "Client connections accepted.",
            get(&self.connections_total).to_string(),
        );
        text.metric(
            "connections_active",
            "gauge",
            "Client connections open.",
            get(&self.connections_active).to_string(),
        );
        text.metric("requests_total", "counter", "Complete requests forwarded.", get(&self.requests_total).to_string());
        text.metric(
            "client_bytes_total",
            "counter",
            "Bytes forwarded client to upstream.",
            get(&self.client_bytes).to_string(),
        );
        text.metric(
            "upstream_bytes_total",
            "counter",
            "Bytes forwarded upstream to client.",
            get(&self.upstream_bytes).to_string(),
        );
        text.metric(
            "upstream_errors_total",
            "counter",
            "Failed upstream connects, reads and writes.",
            get(&self.upstream_errors).to_string(),
        );
        text.metric("records_total", "counter", "Records stored by the sink.", get(&self.records).to_string());
        text.metric(
            "record_bytes_total",
            "counter",
            "Encoded bytes of stored records.",
            get(&self.record_bytes).to_string(),
        );
        text.metric("queue_bytes", "gauge", "Record bytes waiting for the sink.", get(&self.queue_bytes).to_string());
        text.metric(
            "lag_seconds",
            "gauge",
            "Delay from a record's completion to its storage (last record).",
            format!("{:.6}", get(&self.lag_micros) as f64 / 1e6),
        );
        text.metric("log_bytes", "gauge", "Size of the capture log on disk.", get(&self.log_bytes).to_string());
        text.metric("kafka_sent_total", "counter", "Records acknowledged by Kafka.", get(&self.kafka_sent).to_string());
        text.metric(
            "kafka_failed_total",
            "counter",
            "Kafka sends and deliveries that failed (the records went to the spill).",
            get(&self.kafka_failed).to_string(),
        );
        text.metric(
            "spill_records_total",
            "counter",
            "Records written to the spill log while Kafka was slow or down.",
            get(&self.spill_records).to_string(),
        );
        text.metric(
            "spill_bytes",
            "gauge",
            "Spill log bytes not yet acknowledged by Kafka.",
            get(&self.spill_bytes).to_string(),
        );
        text.metric("spilling", "gauge", "1 while records go to the spill log.", get(&self.spilling).to_string());
        text.labelled(
            "dropped_requests_total",
            "counter",
            "Requests forwarded but not captured.",
            "reason",
            DropReason::ALL.map(|reason| (reason.label(), self.dropped_requests(reason))),
        );
        text.finish()
    }
}
