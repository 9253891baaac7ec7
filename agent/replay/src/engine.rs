//! The replay service: a reader thread, one dispatcher that reassembles connections, one task per connection
//! that replays its requests in order, and the commit of progress.
//!
//! ```text
//! source ──records──▶ dispatcher ──exchanges──▶ connection tasks ──▶ transform ▶ send ▶ compare ▶ results
//!  (thread)          (assemblers, holds,          (one request at a      (bounded in flight, retries)
//!                     expiry, checkpoints)          time, timed)
//! ```
//!
//! Memory is bounded by a byte budget taken by each exchange before it is queued (the dispatcher, and so the
//! reader, waits when it is spent); concurrency by a bound on requests in flight. Progress is committed from
//! the [`Watermark`]: results are flushed and synced first, so a checkpoint never points past a result that is
//! not on disk.

use std::collections::HashMap;
use std::future::Future;
use std::io::{BufWriter, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferry_client::{Client, Preserve};
use ferry_ops::RetryPolicy;
use ferry_replay_compare::Comparer;
use ferry_replay_transform::{Pinned, Rules};
use ferry_traffic::exchange::{Assembler, Exchange};
use ferry_traffic::{Timestamp, TrafficStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tracing::Instrument as _;

use crate::causal::{Order, Ticket};
use crate::config::{Config, SourceConfig};
use crate::dead_letter::{DeadLetter, DeadLetterWriter};
use crate::error::{io, Error, Result};
use crate::journal::Journal;
use crate::kafka_source::KafkaSource;
use crate::metrics::{self, Metrics};
use crate::outcome;
use crate::server_ids::ServerIds;
use crate::source::{Committer, Cursor, LogSource, Source, SourceRecord};
use crate::watermark::{RecordRef, Watermark};

/// How long requests in flight may take to finish when the replay is stopped.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Memory budget unit: the byte budget is counted in KiB so that it fits a semaphore's `u32` requests.
const BUDGET_UNIT: u64 = 1024;

/// What a finished replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Records read.
    pub records: u64,
    /// Records that were not `TrafficStream`s (dead-lettered).
    pub record_errors: u64,
    /// Requests sent whose result was written.
    pub replayed: u64,
    /// Of those, the target's response matched the source's.
    pub matched: u64,
    /// Of those, it did not.
    pub mismatched: u64,
    /// Of those, the target could not be reached, or there was no source response to compare with.
    pub errors: u64,
    /// Requests written to the dead-letter file.
    pub dead_lettered: u64,
    /// Requests an earlier run had already sent (after a restart).
    pub replayed_twice: u64,
    /// Requests not replayed because their beginning was not captured (or never ended).
    pub skipped_partial: u64,
    /// Requests the capture itself left out (`requestDropped`).
    pub dropped_by_capture: u64,
    /// Connections expired while idle with unfinished state.
    pub expired_connections: u64,
    /// Sends repeated after connection errors or throttling.
    pub retries: u64,
}

/// A replay ready to run.
pub struct Replay {
    config: Config,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay").field("target", &self.config.target.url).finish_non_exhaustive()
    }
}

/// Runs a replay until its source is drained (or forever with `follow`) or `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send) -> Result<Summary> {
    Replay::new(config)?.run(shutdown).await
}

impl Replay {
    /// Checks the configuration.
    pub fn new(config: Config) -> Result<Replay> {
        config.validate()?;
        Ok(Replay { config, metrics: Arc::new(Metrics::default()) })
    }

    /// The live metrics (for a progress line or the Prometheus endpoint).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Runs the replay; see [`run`].
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<Summary> {
        let config = self.config;
        let state_dir = config.state_dir();
        std::fs::create_dir_all(&state_dir).map_err(io("create", &state_dir))?;
        let client = Client::new(config.target.clone())?;
        let rules = Rules::new(config.transform.clone())?;
        let comparer = Comparer::new(config.compare.clone())?;
        let source: Box<dyn Source> = match &config.source {
            SourceConfig::Log { dir } => Box::new(LogSource::open(dir, &state_dir)?),
            SourceConfig::Kafka { kafka, group } => Box::new(KafkaSource::new(kafka, group)?),
        };
        let journal = Journal::open(&state_dir.join("sent.ndjson"), &source.resumed_from())?;
        if let Some(parent) = config.results.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io("create", parent))?;
        }
        let results = open_results(&config.results)?;
        let committer = source.committer();
        let budget = config.max_buffered_bytes.div_ceil(BUDGET_UNIT).max(1);
        let shared = Arc::new(Shared {
            books: Mutex::new(Books {
                watermark: Watermark::new(),
                results: BufWriter::with_capacity(256 * 1024, results),
                journal,
                dead_letters: DeadLetterWriter::new(&state_dir.join("dead-letters.ndjson")),
                failure: None,
            }),
            results_path: config.results.clone(),
            client,
            rules,
            comparer,
            metrics: self.metrics.clone(),
            in_flight: Arc::new(Semaphore::new(config.max_in_flight)),
            order: config.causal_order.then(Arc::default),
            server_ids: ServerIds::default(),
            clock: (!config.as_fast_as_possible).then(|| Clock { speedup: config.speedup, origin: OnceLock::new() }),
            retry: RetryPolicy {
                max_attempts: config.max_attempts,
                base: Duration::from_millis(config.retry_base_ms),
                ..RetryPolicy::default()
            },
            stopping: AtomicBool::new(false),
        });
        let metrics_server = match &config.metrics_listen {
            Some(addr) => Some(crate::serve::metrics(addr, self.metrics.clone()).await?),
            None => None,
        };
        let dispatcher = Dispatcher {
            shared: shared.clone(),
            connections: HashMap::new(),
            budget: Arc::new(Semaphore::new(usize::try_from(budget).unwrap_or(usize::MAX >> 4))),
            budget_units: u32::try_from(budget).unwrap_or(u32::MAX),
            idle_timeout_nanos: i128::try_from(config.idle_timeout().as_nanos()).unwrap_or(i128::MAX),
            newest_nanos: i128::MIN,
            summary: Summary::default(),
            committer,
            last_commit: Vec::new(),
        };
        let outcome = dispatcher.run(source, config.follow, config.checkpoint_interval(), shutdown).await;
        if let Some(server) = metrics_server {
            server.abort();
        }
        outcome
    }
}

/// State every task touches, behind one short lock: the watermark and the files whose order matters to it.
struct Books {
    watermark: Watermark,
    results: BufWriter<std::fs::File>,
    journal: Journal,
    dead_letters: DeadLetterWriter,
    /// The first error writing results, dead letters or the journal: the replay stops on it, since going on
    /// would commit progress whose record was lost.
    failure: Option<Error>,
}

struct Shared {
    books: Mutex<Books>,
    results_path: std::path::PathBuf,
    client: Client,
    rules: Rules,
    comparer: Comparer,
    metrics: Arc<Metrics>,
    in_flight: Arc<Semaphore>,
    clock: Option<Clock>,
    order: Option<Arc<Order>>,
    server_ids: ServerIds,
    retry: RetryPolicy,
    stopping: AtomicBool,
}

impl Shared {
    fn books(&self) -> MutexGuard<'_, Books> {
        // A panic while holding the lock is a bug; the books themselves stay usable.
        self.books.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Books {
    fn fail(&mut self, error: Error) {
        if self.failure.is_none() {
            self.failure = Some(error);
        }
    }
}

/// Maps capture time to replay time: the first request replayed is sent at once, each later one when as much
/// time (divided by the speedup) has passed since as passed between the two in the capture.
struct Clock {
    speedup: f64,
    origin: OnceLock<(i128, Instant)>,
}

impl Clock {
    fn due(&self, captured: &Timestamp) -> Instant {
        let nanos = captured.as_nanos();
        let &(origin_nanos, origin) = self.origin.get_or_init(|| (nanos, Instant::now()));
        let offset = nanos.saturating_sub(origin_nanos).max(0) as f64 / self.speedup;
        let offset = Duration::try_from_secs_f64(offset / 1e9).unwrap_or(Duration::ZERO);
        origin.checked_add(offset).unwrap_or(origin)
    }
}

/// One exchange handed to its connection's task.
struct Job {
    connection: Arc<str>,
    exchange: Exchange,
    /// The oldest record the exchange's bytes may come from: held until the job is done.
    hold: RecordRef,
    at: Cursor,
    _budget: OwnedSemaphorePermit,
    /// Its place in the cross-connection order, given up when the job is dropped.
    _order: Option<Ticket>,
    bytes: u64,
}

struct ConnectionState {
    assembler: Assembler,
    /// The record where the connection's unfinished state began; held while there is such state.
    pending: Option<(RecordRef, Cursor)>,
    /// Capture time of the connection's latest observation.
    last_nanos: i128,
    /// The lane of the connection's records (a Kafka connection id is a record key, so one partition).
    lane: u32,
    /// Set when the lane is revoked: the task drops its queued requests instead of replaying them.
    revoked: Arc<AtomicBool>,
    jobs: mpsc::UnboundedSender<Job>,
    task: tokio::task::JoinHandle<()>,
}

/// The connection tasks left when the source was drained: `all` ends when they have.
struct Draining {
    all: tokio::task::JoinHandle<Result<()>>,
    aborts: Vec<tokio::task::AbortHandle>,
}

/// What the reader thread sends.
enum Event {
    Record(SourceRecord),
    /// Lanes whose unfinished work another reader takes over.
    Revoked(Vec<u32>),
    Drained,
    Failed(Error),
}

struct Dispatcher {
    shared: Arc<Shared>,
    connections: HashMap<Arc<str>, ConnectionState>,
    budget: Arc<Semaphore>,
    budget_units: u32,
    idle_timeout_nanos: i128,
    newest_nanos: i128,
    summary: Summary,
    committer: Arc<dyn Committer>,
    last_commit: Vec<Cursor>,
}

impl Dispatcher {
    async fn run(
        mut self,
        source: Box<dyn Source>,
        follow: bool,
        checkpoint_interval: Duration,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<Summary> {
        let stop_reader = Arc::new(AtomicBool::new(false));
        let (events, mut incoming) = mpsc::channel(64);
        let reader = spawn_reader(source, follow, events, stop_reader.clone())?;
        let mut tick = tokio::time::interval(checkpoint_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        let mut finished: Vec<tokio::task::JoinHandle<()>> = Vec::new();
        // Set once the source is drained: resolves when every connection's last request is done. Until then the
        // checkpoint keeps moving on the timer and a shutdown still stops promptly.
        let mut draining: Option<Draining> = None;
        let result = loop {
            tokio::select! {
                () = &mut shutdown => {
                    tracing::info!("replay: shutting down");
                    break self.stop(&mut finished, draining.take()).await;
                }
                event = incoming.recv(), if draining.is_none() => match event {
                    Some(Event::Record(record)) => {
                        if let Err(e) = self.record(record, &mut finished).await {
                            break Err(e);
                        }
                    }
                    Some(Event::Revoked(lanes)) => self.revoke(&lanes, &mut finished),
                    Some(Event::Drained) | None => draining = Some(self.drain(&mut finished).await),
                    Some(Event::Failed(e)) => break Err(e),
                },
                done = async { (&mut draining.as_mut().expect("guarded by the precondition").all).await }, if draining.is_some() => {
                    let done = done.map_err(|e| Error::Task(e.to_string())).and_then(|all| all);
                    break match done {
                        Ok(()) => self.commit().await,
                        Err(e) => Err(e),
                    };
                }
                _ = tick.tick() => {
                    self.expire(&mut finished).await;
                    finished.retain(|task| !task.is_finished());
                    if let Err(e) = self.commit().await {
                        break Err(e);
                    }
                }
            }
        };
        stop_reader.store(true, Ordering::Relaxed);
        drop(incoming);
        // The reader notices the stop flag (or the closed channel) within one poll.
        let _ = tokio::task::spawn_blocking(move || reader.join()).await;
        let metrics = &self.shared.metrics;
        let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        self.summary.records = get(&metrics.records);
        self.summary.record_errors = get(&metrics.record_errors);
        self.summary.matched = get(&metrics.matched);
        self.summary.mismatched = get(&metrics.mismatched);
        self.summary.errors = get(&metrics.errors);
        self.summary.replayed = metrics.replayed();
        self.summary.dead_lettered = get(&metrics.dead_lettered);
        self.summary.replayed_twice = get(&metrics.replayed_twice);
        self.summary.skipped_partial = get(&metrics.skipped_partial);
        self.summary.expired_connections = get(&metrics.expired_connections);
        self.summary.retries = get(&metrics.retries);
        result.map(|()| self.summary)
    }

    /// Feeds one record to its connection and queues the exchanges it completed.
    async fn record(&mut self, record: SourceRecord, finished: &mut Vec<tokio::task::JoinHandle<()>>) -> Result<()> {
        metrics::add(&self.shared.metrics.records, 1);
        let this = {
            let mut books = self.shared.books();
            let this = books.watermark.read(record.at, record.after);
            self.shared.metrics.held_records.store(books.watermark.held_records() as u64, Ordering::Relaxed);
            this
        };
        let stream = match TrafficStream::decode(&record.bytes) {
            Ok(stream) => stream,
            Err(e) => {
                metrics::add(&self.shared.metrics.record_errors, 1);
                let letter = DeadLetter::record(record.at, format!("undecodable record: {e}"), &record.bytes);
                let mut books = self.shared.books();
                books.dead_letters.write(&letter)?;
                metrics::add(&self.shared.metrics.dead_lettered, 1);
                books.watermark.release(this);
                return Ok(());
            }
        };
        if let Some(ts) = stream.sub_stream.iter().rev().find_map(|o| o.ts) {
            self.newest_nanos = self.newest_nanos.max(ts.as_nanos());
        }
        if let (Some(clock), Some(first)) = (&self.shared.clock, stream.sub_stream.iter().find_map(|o| o.ts)) {
            // Replay time starts with the first record read, whichever connection's request goes first.
            clock.origin.get_or_init(|| (first.as_nanos(), Instant::now()));
        }
        let id: Arc<str> = Arc::from(stream.connection_id.as_str());
        if !self.connections.contains_key(&id) {
            let state = self.open_connection(&id, record.at.lane());
            self.connections.insert(id.clone(), state);
        }
        let Some(state) = self.connections.get_mut(&id) else { return Ok(()) };
        let before = state.pending;
        state.assembler.push(&stream);
        if let Some(ts) = stream.sub_stream.iter().rev().find_map(|o| o.ts) {
            state.last_nanos = ts.as_nanos();
        }
        state.assembler.discard_unframed();
        let exchanges = state.assembler.take_exchanges();
        let since = state.assembler.unfinished_since();
        let began_here = since == Some(state.assembler.last_record());
        let (hold, at) = before.unwrap_or((this, record.at));
        {
            let mut books = self.shared.books();
            for _ in &exchanges {
                books.watermark.hold(hold);
            }
            match (state.pending, since) {
                (None, Some(_)) => {
                    books.watermark.hold(this);
                    state.pending = Some((this, record.at));
                }
                (Some((pending, _)), None) => {
                    books.watermark.release(pending);
                    state.pending = None;
                }
                // What is unfinished began in this record: the hold moves up, so a connection kept open does
                // not pin the checkpoint to its first record.
                (Some((pending, _)), Some(_)) if began_here => {
                    books.watermark.hold(this);
                    books.watermark.release(pending);
                    state.pending = Some((this, record.at));
                }
                _ => {}
            }
        }
        let jobs = state.jobs.clone();
        for exchange in exchanges {
            self.queue(&jobs, &id, exchange, hold, at).await;
        }
        if stream.is_last() {
            if let Some(state) = self.connections.remove(&id) {
                finished.push(self.close(id, state, true).await);
            }
        }
        self.shared.books().watermark.release(this);
        Ok(())
    }

    fn open_connection(&self, id: &Arc<str>, lane: u32) -> ConnectionState {
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        let shared = self.shared.clone();
        let revoked = Arc::new(AtomicBool::new(false));
        let dropped = revoked.clone();
        let span = tracing::debug_span!("connection", id = %id);
        let task = tokio::spawn(
            async move {
                while let Some(job) = queue.recv().await {
                    if shared.stopping.load(Ordering::Relaxed) {
                        break;
                    }
                    if !dropped.load(Ordering::Relaxed) {
                        shared.replay(&job).await;
                    }
                    metrics::sub(&shared.metrics.buffered_bytes, job.bytes);
                }
            }
            .instrument(span),
        );
        ConnectionState {
            assembler: Assembler::new(id),
            pending: None,
            last_nanos: self.newest_nanos,
            lane,
            revoked,
            jobs,
            task,
        }
    }

    async fn queue(
        &self,
        jobs: &mpsc::UnboundedSender<Job>,
        id: &Arc<str>,
        exchange: Exchange,
        hold: RecordRef,
        at: Cursor,
    ) {
        let bytes = (exchange.request.len() as u64).saturating_add(exchange.response.len() as u64);
        let units = u32::try_from(bytes.div_ceil(BUDGET_UNIT)).unwrap_or(u32::MAX).clamp(1, self.budget_units);
        // The semaphore is never closed, so acquiring only fails if it were: then no budget is enforced.
        let Ok(permit) = self.budget.clone().acquire_many_owned(units).await else { return };
        metrics::add(&self.shared.metrics.buffered_bytes, bytes);
        let done = exchange.response_end.or(exchange.request_end).or(exchange.request_start);
        let ticket = match (&self.shared.order, done) {
            (Some(order), Some(done)) if !exchange.partial => Some(order.enter(done.as_nanos())),
            _ => None,
        };
        let job = Job { connection: id.clone(), exchange, hold, at, _budget: permit, _order: ticket, bytes };
        if let Err(mpsc::error::SendError(job)) = jobs.send(job) {
            // The connection's task is gone (stopping): the hold stays, so the checkpoint stays before it.
            metrics::sub(&self.shared.metrics.buffered_bytes, job.bytes);
        }
    }

    /// Ends a connection: what the assembler still holds is replayed (requests without a captured response)
    /// or counted (requests never completed). With `release`, the connection's hold on its unfinished state is
    /// dropped; without (the source drained but the connection may go on), it stays, so the next run resumes
    /// early enough to see the whole request.
    async fn close(&mut self, id: Arc<str>, state: ConnectionState, release: bool) -> tokio::task::JoinHandle<()> {
        let ConnectionState { assembler, pending, jobs, task, .. } = state;
        let connection = assembler.finish();
        self.summary.dropped_by_capture = self.summary.dropped_by_capture.saturating_add(connection.dropped);
        if !connection.unterminated_request.is_empty() {
            metrics::add(&self.shared.metrics.skipped_partial, 1);
        }
        if !connection.errors.is_empty() {
            tracing::debug!(connection = %id, errors = ?connection.errors, "connection had errors");
        }
        if let Some((hold, at)) = pending {
            {
                let mut books = self.shared.books();
                for _ in &connection.exchanges {
                    books.watermark.hold(hold);
                }
                if release || connection.unterminated_request.is_empty() {
                    books.watermark.release(hold);
                }
            }
            for exchange in connection.exchanges {
                self.queue(&jobs, &id, exchange, hold, at).await;
            }
        }
        task
    }

    /// Expires connections idle (in capture time) for longer than the timeout, so they cannot hold the
    /// checkpoint back forever.
    async fn expire(&mut self, finished: &mut Vec<tokio::task::JoinHandle<()>>) {
        let limit = self.newest_nanos.saturating_sub(self.idle_timeout_nanos);
        let expired: Vec<Arc<str>> =
            self.connections.iter().filter(|(_, s)| s.last_nanos < limit).map(|(id, _)| id.clone()).collect();
        for id in expired {
            let Some(state) = self.connections.remove(&id) else { continue };
            if state.pending.is_some() {
                metrics::add(&self.shared.metrics.expired_connections, 1);
                tracing::debug!(connection = %id, "expiring an idle connection with unfinished state");
            }
            finished.push(self.close(id, state, true).await);
        }
    }

    /// Lanes were revoked (Kafka partitions given to another group member, which resumes them from the last
    /// commit): their connections are dropped with their queued requests, and every hold on the lanes is
    /// forgotten so they are never committed from here again. A request already in flight still finishes.
    fn revoke(&mut self, lanes: &[u32], finished: &mut Vec<tokio::task::JoinHandle<()>>) {
        let ids: Vec<Arc<str>> =
            self.connections.iter().filter(|(_, s)| lanes.contains(&s.lane)).map(|(id, _)| id.clone()).collect();
        for id in &ids {
            if let Some(state) = self.connections.remove(id) {
                state.revoked.store(true, Ordering::Relaxed);
                finished.push(state.task);
            }
        }
        let mut books = self.shared.books();
        for &lane in lanes {
            books.watermark.forget(lane);
        }
        self.shared.metrics.held_records.store(books.watermark.held_records() as u64, Ordering::Relaxed);
        tracing::debug!(?lanes, connections = ids.len(), "lanes revoked: their unfinished work is dropped");
    }

    /// The source is drained: every connection is closed so its remaining exchanges are replayed. Returns a
    /// task that ends when all connection tasks have; the caller writes the final checkpoint then.
    async fn drain(&mut self, finished: &mut Vec<tokio::task::JoinHandle<()>>) -> Draining {
        let ids: Vec<Arc<str>> = self.connections.keys().cloned().collect();
        for id in ids {
            if let Some(state) = self.connections.remove(&id) {
                finished.push(self.close(id, state, false).await);
            }
        }
        let tasks = std::mem::take(finished);
        let aborts = tasks.iter().map(tokio::task::JoinHandle::abort_handle).collect();
        let all = tokio::spawn(async move {
            for task in tasks {
                task.await.map_err(|e| Error::Task(e.to_string()))?;
            }
            Ok(())
        });
        Draining { all, aborts }
    }

    /// Shutdown: queued requests are abandoned (their holds keep the checkpoint before them), requests in
    /// flight get a short grace period to end, and the checkpoint is written. A task still running after it
    /// is aborted at an await point, never inside a result write, and its request stays unacknowledged.
    async fn stop(
        &mut self,
        finished: &mut Vec<tokio::task::JoinHandle<()>>,
        draining: Option<Draining>,
    ) -> Result<()> {
        self.shared.stopping.store(true, Ordering::Relaxed);
        for (_, state) in self.connections.drain() {
            finished.push(state.task);
        }
        let deadline = tokio::time::Instant::now() + STOP_GRACE;
        for mut task in finished.drain(..) {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                task.abort();
            }
        }
        if let Some(Draining { all, aborts }) = draining {
            if tokio::time::timeout_at(deadline, all).await.is_err() {
                aborts.iter().for_each(tokio::task::AbortHandle::abort);
            }
        }
        self.commit().await
    }

    /// Flushes and syncs the results, then stores the resume points if they moved.
    async fn commit(&mut self) -> Result<()> {
        let points = {
            let mut books = self.shared.books();
            if let Some(e) = books.failure.take() {
                return Err(e);
            }
            let path = &self.shared.results_path;
            books.results.flush().map_err(io("write", path))?;
            books.results.get_ref().sync_data().map_err(io("fsync", path))?;
            self.shared.metrics.held_records.store(books.watermark.held_records() as u64, Ordering::Relaxed);
            books.watermark.resume_points()
        };
        if points.is_empty() || points == self.last_commit {
            return Ok(());
        }
        let committer = self.committer.clone();
        let stored = points.clone();
        tokio::task::spawn_blocking(move || committer.commit(&stored))
            .await
            .map_err(|e| Error::Task(e.to_string()))??;
        tracing::debug!(?points, "replay checkpoint");
        self.shared.books().journal.prune(&points)?;
        self.last_commit = points;
        Ok(())
    }
}

/// Opens the results file for appending. A line torn by a crash is cut off first: its request is after the
/// checkpoint and is replayed again, and a line glued to it would corrupt the next one too.
fn open_results(path: &std::path::Path) -> Result<std::fs::File> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let mut file =
        std::fs::OpenOptions::new().create(true).read(true).append(true).open(path).map_err(io("open", path))?;
    let len = file.metadata().map_err(io("stat", path))?.len();
    let mut end = len;
    let mut block = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(block.len() as u64);
        let chunk = block.get_mut(..usize::try_from(end - start).unwrap_or(0)).unwrap_or_default();
        file.seek(SeekFrom::Start(start)).map_err(io("seek", path))?;
        file.read_exact(chunk).map_err(io("read", path))?;
        match chunk.iter().rposition(|&b| b == b'\n') {
            Some(at) => {
                end = start + at as u64 + 1;
                break;
            }
            None => end = start,
        }
    }
    if end < len {
        tracing::warn!(path = %path.display(), bytes = len - end, "results file ends in a torn line; cutting it off");
        file.set_len(end).map_err(io("truncate", path))?;
    }
    Ok(file)
}

/// Reads the source on a thread of its own, handing records over a bounded channel (which pauses it when the
/// dispatcher is busy), and revoked lanes before the records read after the revocation. Without `follow` it
/// reports `Drained` once the source says it is drained; with it, it polls for new records.
fn spawn_reader(
    mut source: Box<dyn Source>,
    follow: bool,
    events: mpsc::Sender<Event>,
    stop: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("replay-reader".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let next = source.next_record();
                // Revocations that happened during this read go first: its record was fetched under the new assignment.
                let revoked = source.revoked();
                if !revoked.is_empty() && events.blocking_send(Event::Revoked(revoked)).is_err() {
                    return;
                }
                let event = match next {
                    Ok(Some(record)) => Event::Record(record),
                    Ok(None) if follow => {
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                    Ok(None) => match source.drained() {
                        Ok(true) => Event::Drained,
                        Ok(false) => continue,
                        Err(e) => Event::Failed(e),
                    },
                    Err(e) => Event::Failed(e),
                };
                let drained = matches!(event, Event::Drained);
                let last = !matches!(event, Event::Record(_));
                if events.blocking_send(event).is_err() {
                    return;
                }
                if drained {
                    break;
                }
                if last {
                    return;
                }
            }
            // Drained: the engine is finishing the last requests and committing them meanwhile.
            while !stop.load(Ordering::Relaxed) {
                match source.keep_alive() {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "keeping the source alive after the drain");
                        std::thread::sleep(Duration::from_millis(200));
                    }
                }
            }
        })
        .map_err(|e| Error::Task(format!("starting the reader thread: {e}")))
}

impl Shared {
    /// Replays one exchange: transform, wait for its time, send (with retries), compare, record the result;
    /// or dead-letter it. Either way its hold on the watermark is released once its record is written.
    async fn replay(&self, job: &Job) {
        let exchange = &job.exchange;
        let span = tracing::debug_span!("request", number = exchange.number, partial = exchange.partial);
        async {
            if exchange.partial {
                metrics::add(&self.metrics.skipped_partial, 1);
                tracing::debug!("skipped: the request's beginning was not captured");
                self.books().watermark.release(job.hold);
                return;
            }
            let mut request = match ferry_replay_transform::parse_request(&exchange.request)
                .map_err(|e| format!("unparseable request: {e}"))
                .and_then(|r| self.rules.apply(r).map_err(|e| format!("transformation failed: {e}")))
            {
                Ok(request) => request,
                Err(reason) => return self.dead_letter(job, reason),
            };
            if let (Some(clock), Some(captured)) = (&self.clock, exchange.request_start.or(exchange.request_end)) {
                tokio::time::sleep_until(clock.due(&captured).into()).await;
            }
            if let (Some(order), Some(start)) = (&self.order, exchange.request_start) {
                order.wait_before(start.as_nanos()).await;
            }
            // After the wait: the request that handed out the id has been answered by now.
            self.server_ids.rewrite(&mut request);
            // The semaphore is never closed.
            let Ok(_permit) = self.in_flight.acquire().await else { return };
            let replayed_twice = {
                let mut books = self.books();
                match books.journal.sending(&job.connection, exchange.number, job.at) {
                    Ok(twice) => twice,
                    Err(e) => {
                        // Without the journal line the send could not be recognised after a crash: stop.
                        books.fail(e);
                        return;
                    }
                }
            };
            metrics::add(&self.metrics.in_flight, 1);
            let sent = self.send(&request, exchange.response_head.as_ref().map(|h| h.status)).await;
            metrics::sub(&self.metrics.in_flight, 1);
            metrics::add(&self.metrics.request_bytes, request.body().len() as u64);
            if replayed_twice {
                metrics::add(&self.metrics.replayed_twice, 1);
            }
            let line = outcome::result_line(
                &job.connection,
                exchange,
                &request,
                &sent,
                replayed_twice,
                &self.comparer,
                &self.server_ids,
            );
            let mut books = self.books();
            if let Err(e) = outcome::write_line(&mut books.results, &line).map_err(io("write", &self.results_path)) {
                books.fail(e);
                return;
            }
            match line.verdict {
                ferry_replay_compare::VerdictKind::Match => metrics::add(&self.metrics.matched, 1),
                ferry_replay_compare::VerdictKind::Mismatch => metrics::add(&self.metrics.mismatched, 1),
                _ => metrics::add(&self.metrics.errors, 1),
            }
            if let Some(captured) = exchange.request_start {
                let micros = u64::try_from(captured.as_nanos() / 1000).unwrap_or(0);
                self.metrics.last_captured_micros.fetch_max(micros, Ordering::Relaxed);
            }
            if let outcome::Sent::Failed { error, attempts, .. } = &sent {
                let reason = format!("not delivered after {attempts} attempts: {error}");
                let letter = self.letter(job, reason);
                if let Err(e) = books.dead_letters.write(&letter) {
                    books.fail(e);
                    return;
                }
                metrics::add(&self.metrics.dead_lettered, 1);
            }
            books.watermark.release(job.hold);
        }
        .instrument(span)
        .await
    }

    fn letter(&self, job: &Job, reason: String) -> DeadLetter {
        let exchange = &job.exchange;
        let captured_at = exchange.request_start.as_ref().map(crate::time::rfc3339);
        DeadLetter::request(&job.connection, exchange.number, job.at, captured_at, reason, &exchange.request)
    }

    fn dead_letter(&self, job: &Job, reason: String) {
        tracing::debug!(%reason, "dead-lettered");
        let letter = self.letter(job, reason);
        let mut books = self.books();
        if let Err(e) = books.dead_letters.write(&letter) {
            books.fail(e);
            return;
        }
        metrics::add(&self.metrics.dead_lettered, 1);
        books.watermark.release(job.hold);
    }

    /// Sends with retries: connection failures and timeouts are retried, and so is throttling (429/503) of a
    /// request the source answered with success. Any other answer, 5xx included, is a result to compare.
    async fn send(&self, request: &http::Request<Bytes>, source_status: Option<u16>) -> outcome::Sent {
        let pinned = Pinned::of(request);
        let preserve = Preserve { host: pinned.host, authorization: pinned.authorization };
        let mut attempt = 1u32;
        loop {
            let started = Instant::now();
            let result = self.client.send_preserving(outcome::copy_request(request), preserve).await;
            let latency_ms = started.elapsed().as_secs_f64() * 1e3;
            let retry = outcome::should_retry(&result, source_status);
            if retry && attempt < self.retry.max_attempts {
                metrics::add(&self.metrics.retries, 1);
                let delay = self.retry.delay(attempt);
                tracing::debug!(attempt, ?delay, "retrying");
                tokio::time::sleep(delay).await;
                attempt = attempt.saturating_add(1);
                continue;
            }
            return match result {
                Ok(response) => outcome::Sent::Response { response, latency_ms },
                Err(e) => outcome::Sent::Failed { error: e.to_string(), latency_ms, attempts: attempt },
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    #[test]
    fn a_torn_results_line_is_cut_off_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.ndjson");
        std::fs::write(&path, "{\"a\":1}\n{\"b\":2}\n{\"torn\":").unwrap();
        let mut file = super::open_results(&path).unwrap();
        file.write_all(b"{\"c\":3}\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n");
        std::fs::write(&path, "no newline at all").unwrap();
        drop(super::open_results(&path).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"");
        std::fs::write(&path, "whole\n").unwrap();
        drop(super::open_results(&path).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "whole\n");
    }
}
