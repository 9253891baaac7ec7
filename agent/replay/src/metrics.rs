//! Counters and gauges of a replay, for the progress line and the Prometheus text endpoint.
//!
//! Names (all prefixed `ferry_replay_`): `records_total`, `record_errors_total` (undecodable records),
//! `requests_total{outcome}` (`match`, `mismatch`, `error`, `dead_letter`, `skipped_partial`),
//! `replayed_twice_total`, `retries_total`, `expired_connections_total`, `in_flight`, `buffered_bytes`,
//! `held_records` (read, not yet completely replayed: the lag in records), `lag_seconds` (wall-clock time
//! minus the capture time of the latest replayed request, minus the replay's start offset), `request_bytes_total`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ferry_ops::metrics_endpoint::Exposition;

/// The replay's metrics. Updated from any task (relaxed atomics).
#[derive(Debug)]
pub struct Metrics {
    started: Instant,
    pub(crate) records: AtomicU64,
    pub(crate) record_errors: AtomicU64,
    pub(crate) matched: AtomicU64,
    pub(crate) mismatched: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) dead_lettered: AtomicU64,
    pub(crate) skipped_partial: AtomicU64,
    pub(crate) replayed_twice: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) expired_connections: AtomicU64,
    pub(crate) in_flight: AtomicU64,
    pub(crate) buffered_bytes: AtomicU64,
    pub(crate) held_records: AtomicU64,
    pub(crate) request_bytes: AtomicU64,
    /// Capture time (µs since the epoch) of the latest request replayed.
    pub(crate) last_captured_micros: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            started: Instant::now(),
            records: AtomicU64::new(0),
            record_errors: AtomicU64::new(0),
            matched: AtomicU64::new(0),
            mismatched: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
            skipped_partial: AtomicU64::new(0),
            replayed_twice: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            expired_connections: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            buffered_bytes: AtomicU64::new(0),
            held_records: AtomicU64::new(0),
            request_bytes: AtomicU64::new(0),
            last_captured_micros: AtomicU64::new(0),
        }
    }
}

pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

pub(crate) fn sub(counter: &AtomicU64, n: u64) {
    // Saturating: a gauge never wraps even if updates race.
    let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| Some(v.saturating_sub(n)));
}

fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

impl Metrics {
    /// Requests whose result was written (matched, mismatched or errored).
    pub fn replayed(&self) -> u64 {
        get(&self.matched) + get(&self.mismatched) + get(&self.errors)
    }

    /// How far the replay is behind the capture: now minus the capture time of the latest replayed request.
    pub fn lag(&self) -> Option<Duration> {
        let captured = get(&self.last_captured_micros);
        if captured == 0 {
            return None;
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?;
        Some(now.saturating_sub(Duration::from_micros(captured)))
    }

    /// One line for humans: records, rate, in flight, lag and verdicts.
    pub fn progress_line(&self) -> String {
        let elapsed = self.started.elapsed().as_secs_f64().max(0.001);
        let lag = self.lag().map_or_else(|| "-".to_string(), |d| format!("{:.1}s", d.as_secs_f64()));
        format!(
            "replay: {} records, {} requests ({:.0}/s), {} in flight, lag {lag} / {} records, {} matched, {} mismatched, {} errors, {} dead-lettered",
            get(&self.records),
            self.replayed(),
            self.replayed() as f64 / elapsed,
            get(&self.in_flight),
            get(&self.held_records),
            get(&self.matched),
            get(&self.mismatched),
            get(&self.errors),
            get(&self.dead_lettered),
        )
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut text = Exposition::new("ferry_replay_");
        text.metric("records_total", "counter", "Records read.", get(&self.records).to_string());
        text.metric(
            "record_errors_total",
            "counter",
            "Records that are not TrafficStreams.",
            get(&self.record_errors).to_string(),
        );
        text.metric(
            "replayed_twice_total",
            "counter",
            "Requests an earlier run had already sent.",
            get(&self.replayed_twice).to_string(),
        );
        text.metric(
            "retries_total",
            "counter",
            "Sends repeated after a connection error or throttling.",
            get(&self.retries).to_string(),
        );
        text.metric(
            "expired_connections_total",
            "counter",
            "Idle connections whose unfinished state was dropped.",
            get(&self.expired_connections).to_string(),
        );
        text.metric("in_flight", "gauge", "Requests being sent.", get(&self.in_flight).to_string());
        text.metric(
            "buffered_bytes",
            "gauge",
            "Bytes of exchanges waiting to be replayed.",
            get(&self.buffered_bytes).to_string(),
        );
        text.metric(
            "held_records",
            "gauge",
            "Records read and not completely replayed.",
            get(&self.held_records).to_string(),
        );
        text.metric(
            "request_bytes_total",
            "counter",
            "Request bytes sent to the target.",
            get(&self.request_bytes).to_string(),
        );
        text.metric(
            "lag_seconds",
            "gauge",
            "Now minus the capture time of the latest replayed request.",
            format!("{:.3}", self.lag().unwrap_or_default().as_secs_f64()),
        );
        let outcomes = [
            ("match", &self.matched),
            ("mismatch", &self.mismatched),
            ("error", &self.errors),
            ("dead_letter", &self.dead_lettered),
            ("skipped_partial", &self.skipped_partial),
        ];
        text.labelled(
            "requests_total",
            "counter",
            "Captured requests by outcome.",
            "outcome",
            outcomes.map(|(outcome, counter)| (outcome, get(counter))),
        );
        text.finish()
    }
}
