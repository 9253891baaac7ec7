//! The hand-off from the request path to storage: a bounded queue (by bytes) that never blocks the sender, and
//! the writer thread that appends records to the capture log.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Instant;

use ferry_capture_log::{LogConfig, LogWriter};

use crate::metrics::{DropReason, Metrics};

/// An encoded record and when it was completed (for the lag metric).
pub(crate) struct Queued {
    bytes: Vec<u8>,
    completed: Instant,
}

/// The sending side, shared by every connection.
#[derive(Clone)]
pub(crate) struct Queue {
    tx: SyncSender<Queued>,
    limit: u64,
    metrics: Arc<Metrics>,
}

impl Queue {
    /// Offers a record; `false` when the queue is full (the caller drops the affected requests).
    pub(crate) fn offer(&self, bytes: Vec<u8>) -> bool {
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

/// Starts the writer thread on the log in `dir`. The thread ends, after a final fsync, once every [`Queue`]
/// clone is dropped.
pub(crate) fn start_log_writer(
    dir: &std::path::Path,
    config: LogConfig,
    queue_bytes: usize,
    metrics: Arc<Metrics>,
) -> crate::Result<(Queue, std::thread::JoinHandle<()>)> {
    let writer = LogWriter::open(dir, config)?;
    // The byte budget is the real bound; the slot count only caps bookkeeping for floods of tiny records.
    let (tx, rx) = sync_channel(64 * 1024);
    let queue = Queue { tx, limit: queue_bytes as u64, metrics: metrics.clone() };
    let thread = std::thread::Builder::new()
        .name("capture-log".into())
        .spawn(move || write_loop(writer, rx, metrics))
        .map_err(crate::Error::Thread)?;
    Ok((queue, thread))
}

fn write_loop(mut writer: LogWriter, rx: Receiver<Queued>, metrics: Arc<Metrics>) {
    let mut failing = false;
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        // Drain what is queued, then flush once: one write syscall and at most one fsync per burst.
        while let Some(queued) = next {
            let len = queued.bytes.len() as u64;
            metrics.queue_bytes.fetch_sub(len, Ordering::Relaxed);
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
        (Queue { tx, limit, metrics }, rx)
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
