//! One unit of work, end to end: checkpoint → reader thread → bounded channel → senders → checkpoint.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::bulk::{Batch, ItemSpan};
use crate::checkpoint::{AckTracker, Checkpoint, Position};
use crate::dead_letter::DeadLetterWriter;
use crate::error::{Error, Result};
use crate::response::{classify, BulkVerdict, ItemOutcome};
use crate::source::{read_batches, ShardSource, TargetIndex};
use crate::target::BulkTarget;
use ferry_ops::RetryPolicy;

/// How a unit is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Upper bound of a `_bulk` body in bytes (default 4 MB); a single larger document is sent alone.
    pub max_bytes: usize,
    /// `_bulk` requests in flight at once (default 4). Memory is bounded by about `2 · in_flight + 1` bodies.
    pub in_flight: usize,
    /// Retries of `_bulk` requests and items.
    pub retry: RetryPolicy,
}

impl Default for Options {
    fn default() -> Options {
        Options { max_bytes: 4_000_000, in_flight: 4, retry: RetryPolicy::default() }
    }
}

/// A unit of work: a shard, or the document range `[start, end)` of one, bound for a target index, with the
/// checkpoint file that records its progress.
#[derive(Debug)]
pub struct Unit {
    /// Where the documents come from.
    pub source: ShardSource,
    /// Where they go.
    pub target: TargetIndex,
    /// The checkpoint file.
    pub checkpoint: PathBuf,
    /// Only documents in this range; the whole shard when `None`.
    pub range: Option<(Position, Position)>,
}

/// Running totals, shared with progress displays while units run.
#[derive(Debug, Default)]
pub struct Totals {
    /// Live documents in the segments being read (known once a unit's segments are open).
    pub expected: AtomicU64,
    /// Documents the target acknowledged as indexed.
    pub indexed: AtomicU64,
    /// Documents written to the dead-letter file.
    pub dead_lettered: AtomicU64,
    /// Document sends repeated after a retryable item or request failure.
    pub retried: AtomicU64,
    /// `_bulk` requests sent, retries included.
    pub requests: AtomicU64,
    /// Body bytes of acknowledged batches (first sends only).
    pub bytes: AtomicU64,
    /// Documents already acknowledged by earlier runs, according to the checkpoints (skipped now).
    pub resumed: AtomicU64,
}

/// A point-in-time copy of [`Totals`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TotalsSnapshot {
    /// See [`Totals::expected`].
    pub expected: u64,
    /// See [`Totals::indexed`].
    pub indexed: u64,
    /// See [`Totals::dead_lettered`].
    pub dead_lettered: u64,
    /// See [`Totals::retried`].
    pub retried: u64,
    /// See [`Totals::requests`].
    pub requests: u64,
    /// See [`Totals::bytes`].
    pub bytes: u64,
    /// See [`Totals::resumed`].
    pub resumed: u64,
}

impl Totals {
    /// The current values.
    pub fn snapshot(&self) -> TotalsSnapshot {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        TotalsSnapshot {
            expected: get(&self.expected),
            indexed: get(&self.indexed),
            dead_lettered: get(&self.dead_lettered),
            retried: get(&self.retried),
            requests: get(&self.requests),
            bytes: get(&self.bytes),
            resumed: get(&self.resumed),
        }
    }

    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// How a unit ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitReport {
    /// The checkpoint said the unit was already complete; nothing was read or sent.
    pub already_complete: bool,
    /// Where reading started (after the checkpoint's position when resuming).
    pub started_at: Position,
    /// Documents indexed in this run.
    pub indexed: u64,
    /// Documents dead-lettered in this run.
    pub dead_lettered: u64,
    /// Live stored documents without an id (nested children), not sent on their own.
    pub without_id: u64,
    /// Live documents without `_source`, which cannot be re-indexed (reported, not sent).
    pub without_source: u64,
}

/// What one batch's sends achieved.
#[derive(Debug, Default)]
struct Sent {
    indexed: u64,
    dead_lettered: u64,
}

/// Runs `unit` to completion against `target`, resuming from its checkpoint, and keeps the checkpoint at
/// the end of the acknowledged prefix after every batch. On error the checkpoint stays valid for a rerun.
pub async fn run_unit<T: BulkTarget>(
    unit: Unit,
    target: Arc<T>,
    dead_letters: Arc<DeadLetterWriter>,
    options: Options,
    totals: Arc<Totals>,
) -> Result<UnitReport> {
    let Unit { source, target: index, checkpoint: path, range } = unit;
    let span = tracing::info_span!("unit", source = %source.label(), index = %index.name());
    async move {
        let (start, end) = range.unwrap_or((Position::default(), source.end()));
        let commit = source.commit_id();
        let mut checkpoint = match Checkpoint::load(&path)? {
            Some(existing) if existing.commit != commit => {
                return Err(Error::Checkpoint {
                    path,
                    reason: format!(
                        "it was taken on commit {} but the source now holds {commit}; remove it to start the unit over",
                        existing.commit
                    ),
                })
            }
            Some(existing) => existing,
            None => Checkpoint::new(commit, start),
        };
        if checkpoint.complete {
            tracing::info!(checkpoint = %path.display(), "unit already complete");
            Totals::add(&totals.resumed, checkpoint.indexed.saturating_add(checkpoint.dead_lettered));
            return Ok(UnitReport {
                already_complete: true,
                started_at: checkpoint.next,
                indexed: 0,
                dead_lettered: 0,
                without_id: 0,
                without_source: 0,
            });
        }
        let from = checkpoint.next.max(start);
        if from > start {
            tracing::info!(segment = from.segment, doc = from.doc, "resuming from checkpoint");
        }
        let (tx, mut rx) = mpsc::channel::<Batch>(options.in_flight.max(1));
        let reader_span = tracing::Span::current();
        let max_bytes = options.max_bytes;
        let reader_totals = Arc::clone(&totals);
        let reader = tokio::task::spawn_blocking(move || {
            let _entered = reader_span.entered();
            read_batches(&source, &index, from, end, max_bytes, &tx, &reader_totals.expected)
        });

        let mut tracker = AckTracker::new(from);
        let mut inflight: JoinSet<(u64, Position, bool, Result<Sent>)> = JoinSet::new();
        let mut reading = true;
        let mut last_acked = false;
        let mut report = UnitReport {
            already_complete: false,
            started_at: from,
            indexed: 0,
            dead_lettered: 0,
            without_id: 0,
            without_source: 0,
        };
        let failure = loop {
            tokio::select! {
                batch = rx.recv(), if reading && inflight.len() < options.in_flight.max(1) => match batch {
                    Some(batch) => {
                        let (target, dead_letters, totals) = (Arc::clone(&target), Arc::clone(&dead_letters), Arc::clone(&totals));
                        let span = tracing::debug_span!("batch", seq = batch.seq, docs = batch.items.len(), bytes = batch.body.len());
                        inflight.spawn(async move {
                            let result = send_batch(target.as_ref(), &batch, &options.retry, &dead_letters, &totals).await;
                            if result.is_ok() {
                                Totals::add(&totals.bytes, u64::try_from(batch.body.len()).unwrap_or(u64::MAX));
                            }
                            (batch.seq, batch.end, batch.last, result)
                        }.instrument(span));
                    }
                    None => reading = false,
                },
                done = inflight.join_next(), if !inflight.is_empty() => {
                    let Some(done) = done else { continue };
                    let (seq, batch_end, last, sent) = match done {
                        Ok((seq, batch_end, last, Ok(sent))) => (seq, batch_end, last, sent),
                        Ok((_, _, _, Err(e))) => break Some(e),
                        Err(_) => break Some(Error::TaskLost("sender")),
                    };
                    report.indexed += sent.indexed;
                    report.dead_lettered += sent.dead_lettered;
                    checkpoint.indexed = checkpoint.indexed.saturating_add(sent.indexed);
                    checkpoint.dead_lettered = checkpoint.dead_lettered.saturating_add(sent.dead_lettered);
                    last_acked |= last;
                    if let Some(next) = tracker.ack(seq, batch_end) {
                        checkpoint.next = next;
                        checkpoint.complete = last_acked && tracker.waiting() == 0;
                        checkpoint.store(&path)?;
                        tracing::debug!(segment = next.segment, doc = next.doc, complete = checkpoint.complete, "checkpoint");
                    }
                },
                else => break None,
            }
        };
        // Dropping the receiver and the in-flight sends stops the reader at its next batch.
        drop(rx);
        inflight.shutdown().await;
        let read = reader.await.map_err(|_| Error::TaskLost("reader"));
        if let Some(failure) = failure {
            return Err(failure);
        }
        let stats = read??;
        report.without_id = stats.without_id;
        report.without_source = stats.without_source;
        if !checkpoint.complete {
            // The last batch can end where the acknowledged prefix already ended (nothing was left to read),
            // which moves nothing in the tracker.
            checkpoint.complete = true;
            checkpoint.next = end;
            checkpoint.store(&path)?;
        }
        tracing::info!(indexed = report.indexed, dead_lettered = report.dead_lettered, "unit complete");
        Ok(report)
    }
    .instrument(span)
    .await
}

/// Sends one batch until every document is indexed or dead-lettered, retrying what the target says may pass
/// later; dead letters are on disk before this returns.
async fn send_batch<T: BulkTarget>(
    target: &T,
    batch: &Batch,
    retry: &RetryPolicy,
    dead_letters: &DeadLetterWriter,
    totals: &Totals,
) -> Result<Sent> {
    let mut sent = Sent::default();
    let mut letters = batch.unsendable.clone();
    let mut pending: Vec<ItemSpan> = batch.items.clone();
    let mut attempt = 0u32;
    while !pending.is_empty() {
        attempt = attempt.saturating_add(1);
        let body = if pending.len() == batch.items.len() { batch.body.clone() } else { batch.body_of(&pending) };
        Totals::add(&totals.requests, 1);
        let reason = match target.bulk(body).await {
            Err(e) => format!("transport: {e}"),
            Ok(reply) => match classify(reply.status, &reply.body, pending.len()) {
                BulkVerdict::Fail(reason) => return Err(Error::Rejected { reason }),
                BulkVerdict::Retry(reason) => reason,
                BulkVerdict::Items(outcomes) => {
                    let mut again = Vec::new();
                    let mut reason = String::new();
                    for (item, outcome) in pending.iter().zip(outcomes) {
                        match outcome {
                            ItemOutcome::Indexed => sent.indexed += 1,
                            ItemOutcome::Retry { status, reason: why } => {
                                again.push(*item);
                                reason = format!("item status {status}: {why}");
                            }
                            ItemOutcome::Reject { status, error_type, reason } => {
                                letters.push(batch.dead_letter(*item, status, error_type, reason));
                            }
                        }
                    }
                    pending = again;
                    if pending.is_empty() {
                        break;
                    }
                    reason
                }
            },
        };
        if attempt >= retry.max_attempts {
            return Err(Error::RetriesExhausted { attempts: attempt, reason });
        }
        Totals::add(&totals.retried, u64::try_from(pending.len()).unwrap_or(u64::MAX));
        let delay = retry.delay(attempt);
        tracing::debug!(attempt, pending = pending.len(), delay_ms = delay.as_millis() as u64, %reason, "retrying");
        tokio::time::sleep(delay).await;
    }
    dead_letters.write(&letters)?;
    sent.dead_lettered = u64::try_from(letters.len()).unwrap_or(u64::MAX);
    Totals::add(&totals.indexed, sent.indexed);
    Totals::add(&totals.dead_lettered, sent.dead_lettered);
    Ok(sent)
}
