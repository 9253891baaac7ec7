//! The hand-off from the request path to storage: a bounded queue (by bytes) that never blocks the sender, and
//! the writer thread that appends records to the capture log, or, with Kafka configured, the Kafka sink
//! (`kafka_sink`) that uses the log as its spill buffer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Instant;

use ferry_capture_log::{LogConfig, LogWriter};

use crate::config::CaptureConfig;
use crate::metrics::{DropReason, Metrics};

/// An encoded record and when it was completed (for the lag metric).
pub(crate) struct Queued {
    pub(crate) bytes: Vec<u8>,
    pub(crate) completed: Instant,
}

/// The sending side, shared by every connection.
#[derive(Clone)]
pub(crate) struct Queue {
    tx: SyncSender<Queued>,
    limit: u64,
    metrics: Arc<Metrics>,
    /// Set by a sink that cannot store anything more (the Kafka spill is full): records are refused at once, so
    /// the recorder marks whole requests as dropped instead of the sink losing records silently.
    refusing: Arc<AtomicBool>,
}

impl Queue {
    /// Offers a record; `false` when the queue is full (the caller drops the affected requests).
    pub(crate) fn offer(&self, bytes: Vec<u8>) -> bool {
        if self.refusing.load(Ordering::Relaxed) {
            return false;
        }
        let len = bytes.len() as u64;
        let queued = self.metrics.queue_bytes.fetch_add(len, Ordering::Relaxed);
        if queued.saturating_add(len) > self.limit {
            self.metrics.queue_bytes.fetch_sub(len, Ordering::Relaxed);
            return false;
        }
        match self.tx.try_send(Queued { bytes, completed: Instant::now() }) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.metrics.queue_bytes.fetch_sub(len, Ordering::Relaxed);
                false
            }
        }
    }
}

/// Starts the sink `config` describes: the Kafka sink when `kafka` is set, else the writer thread on the log.
/// The thread ends, after flushing what it holds, once every [`Queue`] clone is dropped.
pub(crate) fn start(
    config: &CaptureConfig,
    log_config: LogConfig,
    metrics: Arc<Metrics>,
) -> crate::Result<(Queue, std::thread::JoinHandle<()>)> {
    let (queue, rx) = channel(config.queue_bytes, metrics.clone());
    let spawn = |name: &str, body: Box<dyn FnOnce() + Send>| {
        std::thread::Builder::new().name(name.into()).spawn(body).map_err(crate::Error::Thread)
    };
    let thread = match &config.kafka {
        Some(kafka) => {
            let sink = crate::kafka_sink::KafkaSink::open(kafka, &config.log_dir, log_config, &queue, metrics)?;
            spawn("capture-kafka", Box::new(move || sink.run(rx)))?
        }
        None => {
            let writer = LogWriter::open(&config.log_dir, log_config)?;
            spawn("capture-log", Box::new(move || write_loop(writer, rx, metrics)))?
        }
    };
    Ok((queue, thread))
}

fn channel(queue_bytes: usize, metrics: Arc<Metrics>) -> (Queue, Receiver<Queued>) {
    // The byte budget is the real bound; the slot count only caps bookkeeping for floods of tiny records.
    let (tx, rx) = sync_channel(64 * 1024);
    (Queue { tx, limit: queue_bytes as u64, metrics, refusing: Arc::new(AtomicBool::new(false)) }, rx)
}

impl Queue {
    /// The flag a sink raises while it cannot store records (see [`Queue::offer`]).
    pub(crate) fn refusing(&self) -> Arc<AtomicBool> {
        self.refusing.clone()
    }
}

impl Queued {
    /// Takes the record off the queue's byte budget (the sink now holds it).
    pub(crate) fn release(&self, metrics: &Metrics) -> u64 {
        let len = self.bytes.len() as u64;
        metrics.queue_bytes.fetch_sub(len, Ordering::Relaxed);
        len
    }
}

fn write_loop(mut writer: LogWriter, rx: Receiver<Queued>, metrics: Arc<Metrics>) {
    let mut failing = false;
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        // Drain what is queued, then flush once: one write syscall and at most one fsync per burst.
        while let Some(queued) = next {
            let len = queued.release(&metrics);
            match writer.append(&queued.bytes) {
                Ok(_) => {
                    failing = false;
                    Metrics::add(&metrics.records, 1);
                    Metrics::add(&metrics.record_bytes, len);
                    let lag = u64::try_from(queued.completed.elapsed().as_micros()).unwrap_or(u64::MAX);
                    metrics.lag_micros.store(lag, Ordering::Relaxed);
                }
                Err(e) => {
                    metrics.dropped(DropReason::SinkError, 1);
                    if !failing {
                        tracing::error!(error = %e, "capture log append failed; records are being lost");
                    }
                    failing = true;
                }
            }
            next = rx.try_recv().ok();
        }
        if let Err(e) = writer.flush() {
            tracing::error!(error = %e, "capture log flush failed");
        }
        if let Ok(total) = writer.total_bytes() {
            metrics.log_bytes.store(total, Ordering::Relaxed);
        }
    }
    if let Err(e) = writer.sync() {
        tracing::error!(error = %e, "capture log final fsync failed");
    }
    tracing::debug!("capture log writer stopped");
}

#[cfg(test)]
impl Queue {
    /// A queue of `limit` bytes with no writer: the test takes records with [`Queue::take_for_test`].
    pub(crate) fn for_test(limit: u64, metrics: Arc<Metrics>) -> (Queue, Receiver<Queued>) {
        let (tx, rx) = sync_channel::<Queued>(1024);
        (Queue { tx, limit, metrics, refusing: Arc::new(AtomicBool::new(false)) }, rx)
    }

    /// Takes every queued record, releasing its bytes from the budget as the writer would.
    pub(crate) fn take_for_test(&self, rx: &Receiver<Queued>) -> Vec<Vec<u8>> {
        rx.try_iter()
            .map(|q| {
                self.metrics.queue_bytes.fetch_sub(q.bytes.len() as u64, Ordering::Relaxed);
                q.bytes
            })
            .collect()
    }
}
