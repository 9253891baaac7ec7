//! The Kafka sink: records go straight to Kafka while it keeps up, and to the local log (the spill) while it
//! does not; the spill is drained back into Kafka in order.
//!
//! One thread owns the producer, the spill writer and the spill reader, so every decision below is made
//! without races:
//! - **Direct**: each record is sent (key = connection id) and kept in memory until Kafka acknowledges it.
//! - A send refused (librdkafka's queue is full) or a delivery that failed (unacknowledged after
//!   `message.timeout.ms`) switches to **spilling**: the records still unacknowledged are appended to the spill
//!   first, then every later record, so per-connection order holds in the spill. A record still in flight at
//!   the switch may be delivered anyway and then again from the spill: a duplicate, never a loss.
//! - The drainer starts once no direct send is unresolved (a late direct delivery could otherwise overtake a
//!   drained record). It reads the spill in order and sends a bounded window; on a failure it waits for the
//!   window's reports, rewinds to the first unacknowledged record and retries after a backoff. With the
//!   idempotent producer a partition's acknowledged records are always a prefix of what was sent, so per
//!   connection the first copy of each record lands in order.
//! - When the reader reaches the end of the spill and the window is acknowledged, the sink goes back to direct
//!   sends: no record can slip in between, this thread is the only writer.
//!
//! Progress of the drainer is a checkpoint file (`kafka-drain.checkpoint` in the log directory: the position of
//! the first spilled record not yet acknowledged), replaced atomically a few times a second and at shutdown, so
//! a restart resumes the drain; records acknowledged after the last checkpoint are sent again
//! (at-least-once; records carry their connection id and sequence number, so readers can drop duplicates).
//! Segments wholly before the checkpoint are deleted. At shutdown, direct records not acknowledged within
//! [`SHUTDOWN_FLUSH`] are appended to the spill for the next start.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_capture_log::{LogConfig, LogReader, LogWriter, Position};
use ferry_kafka::{Delivery, KafkaConfig, Producer};

use crate::metrics::{DropReason, Metrics};
use crate::sink::{Queue, Queued};

/// How long the thread waits for a record before serving delivery reports and the drainer.
const TICK: Duration = Duration::from_millis(10);
/// Spilled records sent and not yet acknowledged, at most.
const DRAIN_WINDOW: usize = 1024;
/// Spilled bytes sent and not yet acknowledged, at most.
const DRAIN_WINDOW_BYTES: usize = 32 * 1024 * 1024;
/// First wait after a failed drain; doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How often the drain checkpoint is rewritten while it moves.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);
/// How long shutdown waits for Kafka to acknowledge what was sent.
pub(crate) const SHUTDOWN_FLUSH: Duration = Duration::from_secs(10);
const CHECKPOINT_FILE: &str = "kafka-drain.checkpoint";
const CHECKPOINT_MAGIC: &str = "ferry-kafka-drain 1";

/// The connection id of an encoded `TrafficStream` (field 1) and nothing else: prost skips the other fields
/// without copying them, so keying a 1 MiB record costs a few bytes of parsing.
#[derive(Clone, PartialEq, prost::Message)]
struct ConnectionKey {
    #[prost(string, tag = "1")]
    connection_id: String,
}

fn connection_key(record: &[u8]) -> String {
    <ConnectionKey as prost::Message>::decode(record).map(|k| k.connection_id).unwrap_or_default()
}

/// A direct send awaiting its delivery report.
struct Direct {
    /// The record, until it is copied to the spill.
    bytes: Option<Vec<u8>>,
    completed: Instant,
}

/// A spilled record sent by the drainer.
struct Drained {
    token: usize,
    /// Where the record after it starts: the checkpoint once this one and all before it are acknowledged.
    next: Position,
    len: usize,
    /// Acknowledged (or dropped for good): the checkpoint may pass it.
    done: bool,
    /// Its delivery report arrived, whatever it said.
    reported: bool,
}

/// The sink's state, owned by its thread.
pub(crate) struct KafkaSink {
    producer: Producer,
    kafka: KafkaConfig,
    dir: PathBuf,
    spill: LogWriter,
    spill_dirty: bool,
    spill_limit: Option<u64>,
    reader: LogReader,
    /// A spilled record read but not sent yet (the producer queue was full).
    peeked: Option<ferry_capture_log::Record>,
    /// True from the first spilled record until the spill is drained.
    spilling: bool,
    direct: BTreeMap<usize, Direct>,
    drain: VecDeque<Drained>,
    drain_bytes: usize,
    /// A drained record failed: send nothing more, rewind once the window's reports are in.
    rewinding: bool,
    retry_at: Instant,
    backoff: Duration,
    checkpoint: Option<Position>,
    checkpoint_written: Instant,
    checkpoint_dirty: bool,
    next_token: usize,
    refusing: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
}

impl KafkaSink {
    /// Creates the producer, opens the spill in `dir` and reads the drain checkpoint; a spill left with
    /// undrained records by an earlier run is drained before anything is sent directly.
    pub(crate) fn open(
        kafka: &KafkaConfig,
        dir: &Path,
        log_config: LogConfig,
        queue: &Queue,
        metrics: Arc<Metrics>,
    ) -> crate::Result<KafkaSink> {
        let producer = Producer::new(kafka).map_err(kafka_problem)?;
        // Retention would delete undrained records; the spill is bounded by refusing records instead.
        let spill_limit = log_config.retention_bytes;
        let spill = LogWriter::open(dir, LogConfig { retention_bytes: None, retention_age: None, ..log_config })?;
        let checkpoint = read_checkpoint(dir);
        if let Some(at) = checkpoint {
            delete_segments_before(dir, at.segment);
        }
        let mut reader = LogReader::open_at(dir, checkpoint)?;
        let peeked = reader.next_record()?;
        let spilling = peeked.is_some();
        let checkpoint = if spilling {
            tracing::info!(dir = %dir.display(), ?checkpoint, "capture spill has undrained records: draining them first");
            checkpoint
        } else {
            // Nothing to drain: the checkpoint moves to the end, past segments an earlier run left.
            let end = reader.position();
            if let Some(at) = end {
                delete_segments_before(dir, at.segment);
            }
            end.or(checkpoint)
        };
        let mut sink = KafkaSink {
            producer,
            kafka: kafka.clone(),
            dir: dir.to_path_buf(),
            spill,
            spill_dirty: false,
            spill_limit,
            reader,
            peeked,
            spilling,
            direct: BTreeMap::new(),
            drain: VecDeque::new(),
            drain_bytes: 0,
            rewinding: false,
            retry_at: Instant::now(),
            backoff: MIN_BACKOFF,
            checkpoint,
            checkpoint_written: Instant::now(),
            checkpoint_dirty: !spilling,
            next_token: 0,
            refusing: queue.refusing(),
            metrics,
        };
        sink.update_spill_gauges();
        Ok(sink)
    }

    /// The thread body: runs until every queue sender is gone, then flushes.
    pub(crate) fn run(mut self, rx: Receiver<Queued>) {
        tracing::debug!(topic = %self.producer.topic(), spilling = self.spilling, "capture Kafka sink started");
        loop {
            match rx.recv_timeout(TICK) {
                Ok(first) => {
                    let mut next = Some(first);
                    while let Some(queued) = next {
                        self.accept(queued);
                        next = rx.try_recv().ok();
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            self.flush_spill();
            self.serve(Duration::ZERO);
            if self.spilling {
                self.drain_step();
            }
            self.maybe_write_checkpoint(false);
        }
        self.shutdown();
    }

    /// One record from the request path.
    fn accept(&mut self, queued: Queued) {
        queued.release(&self.metrics);
        if self.spilling {
            self.spill_record(&queued.bytes, Some(queued.completed));
            return;
        }
        let token = self.token();
        let key = connection_key(&queued.bytes);
        match self.producer.send(key.as_bytes(), &queued.bytes, token) {
            Ok(()) => {
                self.direct.insert(token, Direct { bytes: Some(queued.bytes), completed: queued.completed });
            }
            Err(e) if e.is_permanent() => self.drop_permanent(&queued.bytes, &e),
            Err(e) => {
                Metrics::add(&self.metrics.kafka_failed, 1);
                self.start_spilling(&e.to_string());
                self.spill_record(&queued.bytes, Some(queued.completed));
            }
        }
    }

    fn token(&mut self) -> usize {
        self.next_token = self.next_token.wrapping_add(1);
        self.next_token
    }

    /// Switches to the spill, copying the direct records not yet acknowledged there first (in send order).
    fn start_spilling(&mut self, reason: &str) {
        if self.spilling {
            return;
        }
        let unacknowledged: Vec<(Vec<u8>, Instant)> =
            self.direct.values_mut().filter_map(|d| Some((d.bytes.take()?, d.completed))).collect();
        tracing::warn!(
            reason,
            unacknowledged = unacknowledged.len(),
            "Kafka is slow or unavailable: capture records go to the spill log until it is drained"
        );
        self.spilling = true;
        self.metrics.spilling.store(1, Ordering::Relaxed);
        for (bytes, completed) in &unacknowledged {
            self.spill_record(bytes, Some(*completed));
        }
    }

    fn spill_record(&mut self, bytes: &[u8], completed: Option<Instant>) {
        let len = bytes.len() as u64;
        // Uncompressed length: an overestimate until the next flush measures the spill on disk.
        let pending = self.metrics.spill_bytes.load(Ordering::Relaxed);
        if self.spill_limit.is_some_and(|limit| pending.saturating_add(len) > limit) {
            self.drop_record(bytes, DropReason::SpillFull);
            if !self.refusing.swap(true, Ordering::Relaxed) {
                tracing::error!(
                    limit = self.spill_limit,
                    "capture spill full (retention_bytes) while Kafka is unavailable: dropping requests from the capture"
                );
            }
            return;
        }
        match self.spill.append(bytes) {
            Ok(_) => {
                self.spill_dirty = true;
                Metrics::add(&self.metrics.spill_records, 1);
                self.metrics.spill_bytes.fetch_add(len, Ordering::Relaxed);
                if let Some(completed) = completed {
                    Metrics::add(&self.metrics.records, 1);
                    Metrics::add(&self.metrics.record_bytes, len);
                    self.lag(completed);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "capture spill append failed; a record is lost");
                self.drop_record(bytes, DropReason::SinkError);
            }
        }
    }

    /// Counts the requests a lost record completed (its end-of-message observations) under `reason`.
    fn drop_record(&self, bytes: &[u8], reason: DropReason) {
        let requests = ferry_traffic::TrafficStream::decode(bytes).map_or(0, |stream| {
            stream
                .sub_stream
                .iter()
                .filter(|o| matches!(o.capture, Some(ferry_traffic::Capture::EndOfMessageIndicator(_))))
                .count() as u64
        });
        self.metrics.dropped(reason, requests);
    }

    fn drop_permanent(&self, bytes: &[u8], error: &ferry_kafka::Error) {
        tracing::error!(error = %error, bytes = bytes.len(), "Kafka rejects a capture record for good; it is lost");
        self.drop_record(bytes, DropReason::SinkError);
    }

    fn lag(&self, completed: Instant) {
        let lag = u64::try_from(completed.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.metrics.lag_micros.store(lag, Ordering::Relaxed);
    }

    fn flush_spill(&mut self) {
        if !self.spill_dirty {
            return;
        }
        if let Err(e) = self.spill.flush() {
            tracing::error!(error = %e, "capture spill flush failed");
        }
        self.spill_dirty = false;
        self.update_spill_gauges();
    }

    /// Serves delivery reports and reacts to them; replaces the producer after a fatal error.
    fn serve(&mut self, timeout: Duration) {
        for delivery in self.producer.poll(timeout) {
            self.delivered(delivery);
        }
        if let Some(fatal) = self.producer.fatal_error() {
            self.replace_producer(&fatal);
        }
    }

    fn delivered(&mut self, delivery: Delivery) {
        if let Some(direct) = self.direct.remove(&delivery.token) {
            match delivery.result {
                Ok(_) => {
                    Metrics::add(&self.metrics.kafka_sent, 1);
                    // A record copied to the spill was counted as stored there.
                    if let Some(bytes) = direct.bytes {
                        Metrics::add(&self.metrics.records, 1);
                        Metrics::add(&self.metrics.record_bytes, bytes.len() as u64);
                        self.lag(direct.completed);
                    }
                }
                Err(e) => {
                    Metrics::add(&self.metrics.kafka_failed, 1);
                    match direct.bytes {
                        Some(bytes) if e.is_permanent() => self.drop_permanent(&bytes, &e),
                        Some(bytes) => {
                            // Back in the map for a moment, so the spill gets it in send order with the others.
                            self.direct.insert(delivery.token, Direct { bytes: Some(bytes), ..direct });
                            self.start_spilling(&e.to_string());
                            self.direct.remove(&delivery.token);
                        }
                        // Already copied to the spill when spilling started.
                        None => {}
                    }
                }
            }
            return;
        }
        let Some(entry) = self.drain.iter_mut().find(|d| d.token == delivery.token) else {
            return;
        };
        match delivery.result {
            Ok(_) => {
                Metrics::add(&self.metrics.kafka_sent, 1);
                entry.done = true;
                entry.reported = true;
            }
            Err(e) if e.is_permanent() => {
                entry.done = true;
                entry.reported = true;
                tracing::error!(error = %e, "Kafka rejects a spilled capture record for good; it is lost");
                self.metrics.dropped(DropReason::SinkError, 1);
            }
            Err(e) => {
                entry.reported = true;
                Metrics::add(&self.metrics.kafka_failed, 1);
                if !self.rewinding {
                    tracing::warn!(error = %e, retry_in = ?self.backoff, "draining the capture spill failed; will retry");
                }
                self.rewinding = true;
            }
        }
        self.advance_checkpoint();
    }

    /// Moves the checkpoint over the acknowledged prefix of the drain window.
    fn advance_checkpoint(&mut self) {
        while self.drain.front().is_some_and(|d| d.done) {
            if let Some(done) = self.drain.pop_front() {
                self.drain_bytes = self.drain_bytes.saturating_sub(done.len);
                self.set_checkpoint(done.next);
            }
        }
    }

    fn set_checkpoint(&mut self, at: Position) {
        let new_segment = self.checkpoint.is_none_or(|old| old.segment != at.segment);
        self.checkpoint = Some(at);
        self.checkpoint_dirty = true;
        if new_segment {
            // Segments wholly drained are deleted only after the checkpoint past them is on disk.
            self.maybe_write_checkpoint(true);
            delete_segments_before(&self.dir, at.segment);
            self.update_spill_gauges();
        }
    }

    /// Sends the next spilled records, rewinds after a failure, and returns to direct sends when drained.
    fn drain_step(&mut self) {
        if !self.direct.is_empty() {
            // Wait until every direct send is resolved: a late delivery must not overtake a drained record.
            return;
        }
        if self.rewinding {
            if self.drain.iter().any(|d| !d.reported) {
                return;
            }
            self.rewind();
            return;
        }
        if Instant::now() < self.retry_at {
            return;
        }
        while self.drain.len() < DRAIN_WINDOW && self.drain_bytes < DRAIN_WINDOW_BYTES {
            let record = match self.peeked.take() {
                Some(record) => record,
                None => match self.reader.next_record() {
                    Ok(Some(record)) => record,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::error!(error = %e, "reading the capture spill failed; will retry");
                        self.rewinding = true;
                        return;
                    }
                },
            };
            let token = self.token();
            let key = connection_key(&record.bytes);
            let done = match self.producer.send(key.as_bytes(), &record.bytes, token) {
                Ok(()) => false,
                Err(e) if e.is_queue_full() => {
                    self.peeked = Some(record);
                    return;
                }
                Err(e) if e.is_permanent() => {
                    self.drop_permanent(&record.bytes, &e);
                    true
                }
                Err(e) => {
                    Metrics::add(&self.metrics.kafka_failed, 1);
                    tracing::warn!(error = %e, "sending a spilled capture record failed; will retry");
                    self.rewinding = true;
                    return;
                }
            };
            // The reader stands just after this record: where the drain resumes once it is acknowledged.
            let next = self.reader.position().unwrap_or(record.position);
            self.drain.push_back(Drained { token, next, len: record.bytes.len(), done, reported: done });
            self.drain_bytes = self.drain_bytes.saturating_add(record.bytes.len());
        }
        self.advance_checkpoint();
        if self.drain.is_empty() && self.peeked.is_none() {
            self.drained();
        }
    }

    /// Every spilled record is acknowledged and none is left: back to direct sends.
    fn drained(&mut self) {
        if let Some(at) = self.reader.position() {
            self.set_checkpoint(at);
        }
        self.maybe_write_checkpoint(true);
        self.spilling = false;
        self.backoff = MIN_BACKOFF;
        self.metrics.spilling.store(0, Ordering::Relaxed);
        self.update_spill_gauges();
        self.refusing.store(false, Ordering::Relaxed);
        tracing::info!("capture spill drained: records go straight to Kafka again");
    }

    /// Reopens the spill at the checkpoint after a failed drain and schedules the retry.
    fn rewind(&mut self) {
        self.drain.clear();
        self.drain_bytes = 0;
        self.peeked = None;
        self.rewinding = false;
        match LogReader::open_at(&self.dir, self.checkpoint) {
            Ok(reader) => self.reader = reader,
            Err(e) => tracing::error!(error = %e, "reopening the capture spill failed; will retry"),
        }
        self.update_spill_gauges();
        self.retry_at = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    fn replace_producer(&mut self, fatal: &str) {
        tracing::error!(error = fatal, "Kafka producer failed fatally; replacing it");
        self.start_spilling(fatal);
        match Producer::new(&self.kafka) {
            Ok(producer) => {
                // The old producer's records are lost with it: the spill holds copies of the direct ones and
                // the drain restarts from its checkpoint.
                self.producer = producer;
                self.direct.clear();
                self.rewind();
            }
            Err(e) => tracing::error!(error = %e, "cannot recreate the Kafka producer"),
        }
    }

    /// Recomputes the spill's size on disk and its undrained part (both approximate between calls).
    fn update_spill_gauges(&mut self) {
        let total = self.spill.total_bytes().unwrap_or(0);
        self.metrics.log_bytes.store(total, Ordering::Relaxed);
        // Segments before the checkpoint's are deleted, so what precedes it on disk is its offset.
        let drained = self.checkpoint.map_or(0, |c| c.offset);
        let pending = total.saturating_sub(drained);
        self.metrics.spill_bytes.store(pending, Ordering::Relaxed);
        if self.spill_limit.is_none_or(|limit| pending < limit) && self.refusing.swap(false, Ordering::Relaxed) {
            tracing::warn!("capture spill below its limit again: capturing resumes");
        }
    }

    fn maybe_write_checkpoint(&mut self, now: bool) {
        if !self.checkpoint_dirty || (!now && self.checkpoint_written.elapsed() < CHECKPOINT_EVERY) {
            return;
        }
        let Some(at) = self.checkpoint else { return };
        match write_checkpoint(&self.dir, at) {
            Ok(()) => {
                self.checkpoint_dirty = false;
                self.checkpoint_written = Instant::now();
                self.update_spill_gauges();
            }
            Err(e) => tracing::error!(error = %e, "writing the Kafka drain checkpoint failed"),
        }
    }

    /// Waits up to [`SHUTDOWN_FLUSH`] for outstanding deliveries, spills direct records still unacknowledged,
    /// and leaves the spill and its checkpoint on disk for the next start.
    fn shutdown(mut self) {
        if let Err(e) = self.producer.flush(SHUTDOWN_FLUSH) {
            tracing::warn!(error = %e, "Kafka did not acknowledge every capture record before shutdown");
        }
        self.serve(Duration::ZERO);
        if !self.direct.is_empty() {
            self.start_spilling("shutdown before Kafka acknowledged every record");
        }
        if let Err(e) = self.spill.sync() {
            tracing::error!(error = %e, "capture spill final fsync failed");
        }
        self.maybe_write_checkpoint(true);
        tracing::debug!(spilling = self.spilling, checkpoint = ?self.checkpoint, "capture Kafka sink stopped");
    }
}

fn kafka_problem(e: ferry_kafka::Error) -> crate::Error {
    match e {
        ferry_kafka::Error::Config { problems } => {
            crate::Error::Config { problems: problems.into_iter().map(|p| format!("capture.kafka.{p}")).collect() }
        }
        other => crate::Error::Config { problems: vec![format!("capture.kafka: {other}")] },
    }
}

/// The checkpoint file's position, or `None` (drain from the oldest record) when there is none or it is
/// unreadable: re-sending drained records is a duplicate, skipping undrained ones would be a loss.
fn read_checkpoint(dir: &Path) -> Option<Position> {
    let path = dir.join(CHECKPOINT_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "unreadable Kafka drain checkpoint: draining the whole spill");
            return None;
        }
    };
    let parsed = text.trim_end().strip_prefix(CHECKPOINT_MAGIC).and_then(|rest| {
        let mut fields = rest.split_ascii_whitespace().map(str::parse::<u64>);
        match (fields.next(), fields.next(), fields.next()) {
            (Some(Ok(segment)), Some(Ok(offset)), None) => Some(Position { segment, offset }),
            _ => None,
        }
    });
    if parsed.is_none() {
        tracing::warn!(path = %path.display(), "malformed Kafka drain checkpoint: draining the whole spill");
    }
    parsed
}

/// Replaces the checkpoint file atomically (write, fsync, rename, fsync the directory).
fn write_checkpoint(dir: &Path, at: Position) -> std::io::Result<()> {
    let text = format!("{CHECKPOINT_MAGIC} {} {}\n", at.segment, at.offset);
    ferry_ops::fs::write_atomically(&dir.join(CHECKPOINT_FILE), text.as_bytes())
}

/// Deletes spill segments numbered below `segment` (all their records are acknowledged). Segment files are
/// named by `ferry-capture-log` as a 20-digit number with the `.fcl` extension.
fn delete_segments_before(dir: &Path, segment: u64) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.map_while(Result::ok) {
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".fcl")) else { continue };
        if stem.len() == 20 && stem.parse::<u64>().is_ok_and(|n| n < segment) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => tracing::debug!(segment = stem, "drained capture spill segment deleted"),
                Err(e) => {
                    tracing::warn!(path = %entry.path().display(), error = %e, "cannot delete a drained spill segment")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_the_connection_id_without_decoding_the_payload() {
        let stream = ferry_traffic::TrafficStream {
            connection_id: "node-a.42".into(),
            node_id: "node-a".into(),
            sub_stream: vec![ferry_traffic::TrafficObservation::new(
                ferry_traffic::Timestamp::now(),
                ferry_traffic::Capture::Read(ferry_traffic::Read { data: vec![7; 100_000] }),
            )],
            ..ferry_traffic::TrafficStream::default()
        };
        assert_eq!(connection_key(&stream.encode_to_vec()), "node-a.42");
        assert_eq!(connection_key(b"\xff\xff garbage"), "", "garbage gets the empty key, not a panic");
    }

    #[test]
    fn checkpoints_round_trip_and_bad_ones_mean_drain_everything() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_checkpoint(dir.path()), None);
        let at = Position { segment: 7, offset: 12_345 };
        write_checkpoint(dir.path(), at).unwrap();
        assert_eq!(read_checkpoint(dir.path()), Some(at));
        for bad in ["", "ferry-kafka-drain 1 7", "ferry-kafka-drain 1 7 x", "ferry-kafka-drain 2 7 1", "7 1"] {
            std::fs::write(dir.path().join(CHECKPOINT_FILE), bad).unwrap();
            assert_eq!(read_checkpoint(dir.path()), None, "{bad:?}");
        }
    }

    #[test]
    fn only_segments_before_the_checkpoint_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = LogWriter::open(dir.path(), LogConfig::default()).unwrap();
        writer.append(b"one").unwrap();
        drop(writer);
        let writer = LogWriter::open(dir.path(), LogConfig::default()).unwrap();
        let current = writer.current_segment();
        std::fs::write(dir.path().join("notes.txt"), "kept").unwrap();
        delete_segments_before(dir.path(), current);
        assert!(!dir.path().join(format!("{:020}.fcl", current - 1)).exists(), "the drained segment is gone");
        assert!(dir.path().join(format!("{current:020}.fcl")).exists(), "the checkpoint's segment stays");
        assert!(dir.path().join("notes.txt").exists(), "other files stay");
    }
}
