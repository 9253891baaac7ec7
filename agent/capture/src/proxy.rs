//! The accept loop and the per-connection byte pumps.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferry_traffic::http1::{Event, Framer, Head, Side};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::recorder::{Recorder, Shared};
use crate::suppress::Rules;

/// Size of the buffers bytes stream through: bodies never occupy more than this per direction.
const BUFFER: usize = 64 * 1024;
/// Pipelined requests whose responses have not started before the proxy stops reading the client.
const MAX_PIPELINED: usize = 1024;
/// Time a TLS client has to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a refused client's remaining bytes are read and discarded before its connection is closed.
const LINGER: Duration = Duration::from_secs(2);

/// Sent to clients that ask for CONNECT or a protocol upgrade, which the proxy does not tunnel.
const REFUSAL: &[u8] = b"HTTP/1.1 501 Not Implemented\r\ncontent-type: text/plain\r\ncontent-length: 57\r\nconnection: close\r\n\r\nferry capture proxy: CONNECT and Upgrade are not proxied\n";
/// Sent to clients when the upstream cannot be reached.
const BAD_GATEWAY: &[u8] = b"HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\ncontent-length: 52\r\nconnection: close\r\n\r\nferry capture proxy: the upstream cannot be reached\n";

/// Where the source cluster is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Upstream {
    host: String,
    port: u16,
    tls: bool,
}

impl Upstream {
    /// Parses `http://host[:port]` or `https://host[:port]` (a path is not allowed: the proxy forwards targets as-is).
    pub(crate) fn parse(url: &str) -> std::result::Result<Upstream, String> {
        let uri: http::Uri = url.parse().map_err(|e| format!("{url:?}: {e}"))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(format!("{url:?}: the scheme must be http or https")),
        };
        let host = uri.host().ok_or_else(|| format!("{url:?}: no host"))?;
        if uri.path_and_query().is_some_and(|p| p.as_str() != "/") {
            return Err(format!("{url:?}: no path allowed (requests keep their own targets)"));
        }
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        Ok(Upstream { host, port: uri.port_u16().unwrap_or(if tls { 443 } else { 80 }), tls })
    }
}

/// A configured proxy, ready to start.
pub struct Proxy {
    config: Config,
}

/// A running proxy: its addresses, metrics, and the way to stop it.
pub struct RunningProxy {
    local_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    metrics: Arc<Metrics>,
    stop: watch::Sender<bool>,
    accept: tokio::task::JoinHandle<()>,
    writer: std::thread::JoinHandle<()>,
}

impl Proxy {
    /// Validates `config`.
    pub fn new(config: Config) -> Result<Proxy> {
        config.validate()?;
        Ok(Proxy { config })
    }

    /// Binds the listeners, opens the capture log and starts serving (inside a tokio runtime).
    pub async fn start(self) -> Result<RunningProxy> {
        let config = self.config;
        let upstream = Upstream::parse(&config.upstream).map_err(|e| Error::Config { problems: vec![e] })?;
        let rules = Rules::compile(&config.suppress).map_err(|e| Error::Config { problems: vec![e] })?;
        let log_config = config.capture.log_config().map_err(|e| Error::Config { problems: vec![e] })?;
        let acceptor = config.tls.as_ref().map(crate::tls::acceptor).transpose()?;
        let connector = if upstream.tls { Some(crate::tls::connector(&config.upstream_tls)?) } else { None };
        let metrics = Arc::new(Metrics::default());
        let listener = TcpListener::bind(&config.listen)
            .await
            .map_err(|source| Error::Bind { addr: config.listen.clone(), source })?;
        let local_addr = listener.local_addr().map_err(|source| Error::Bind { addr: config.listen.clone(), source })?;
        let metrics_addr = match &config.metrics_listen {
            Some(addr) => Some(serve_metrics(addr, metrics.clone()).await?),
            None => None,
        };
        let (queue, writer) = crate::sink::start(&config.capture, log_config, metrics.clone())?;
        let node_id = config.capture.node_id.clone().unwrap_or_else(default_node_id);
        let shared = Arc::new(Shared {
            queue,
            metrics: metrics.clone(),
            node_id,
            record_bytes: config.capture.record_bytes,
            rules,
            redact: config.redact_headers.clone(),
        });
        let (stop, stopped) = watch::channel(false);
        let context = Arc::new(Context { upstream, connector, acceptor, shared, next_id: AtomicU64::new(0) });
        tracing::info!(listen = %local_addr, upstream = %config.upstream, log = %config.capture.log_dir.display(), "capture proxy started");
        let accept = tokio::spawn(accept_loop(listener, context, stopped, config.shutdown_grace));
        Ok(RunningProxy { local_addr, metrics_addr, metrics, stop, accept, writer })
    }
}

impl RunningProxy {
    /// The address clients connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The metrics endpoint, when configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The live metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Stops accepting, lets open connections finish within the grace period (then cuts them), and returns once
    /// every captured record is in the log and fsynced.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.accept.await {
            tracing::error!(error = %e, "capture accept loop failed");
        }
        let writer = self.writer;
        if tokio::task::spawn_blocking(move || writer.join()).await.is_err() {
            tracing::error!("capture log writer thread panicked");
        }
        tracing::info!("capture proxy stopped; capture log flushed");
    }
}

fn default_node_id() -> String {
    let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    format!("ferry-{}-{started:x}", std::process::id())
}

struct Context {
    upstream: Upstream,
    connector: Option<tokio_rustls::TlsConnector>,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
    next_id: AtomicU64,
}

async fn accept_loop(
    listener: TcpListener,
    context: Arc<Context>,
    mut stopped: watch::Receiver<bool>,
    grace: Duration,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let context = context.clone();
                    connections.spawn(async move { connection(tcp, peer, context).await });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    let open = connections.len();
    if open > 0 {
        tracing::info!(connections = open, grace_secs = grace.as_secs_f64(), "waiting for open connections");
        let drained = tokio::time::timeout(grace, async { while connections.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!(connections = connections.len(), "grace period over: cutting connections");
            connections.shutdown().await;
        }
    }
}

async fn connection(tcp: TcpStream, peer: SocketAddr, context: Arc<Context>) {
    let metrics = &context.shared.metrics;
    Metrics::add(&metrics.connections_total, 1);
    Metrics::add(&metrics.connections_active, 1);
    let n = context.next_id.fetch_add(1, Ordering::Relaxed);
    let id = format!("{}.{n:x}", context.shared.node_id);
    let span = tracing::debug_span!("connection", id = %id, peer = %peer);
    let _ = tcp.set_nodelay(true);
    async {
        match &context.acceptor {
            Some(acceptor) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp).into_fallible()).await
            {
                Ok(Ok(tls)) => with_upstream(tls, id, &context).await,
                Ok(Err((e, mut tcp))) => {
                    // The alert describing the failure is sent; lingering lets the client read it.
                    tracing::debug!(error = %e, "TLS handshake failed");
                    linger(&mut tcp).await;
                }
                Err(_) => tracing::debug!("TLS handshake timed out"),
            },
            None => with_upstream(tcp, id, &context).await,
        }
    }
    .instrument(span)
    .await;
    metrics.connections_active.fetch_sub(1, Ordering::Relaxed);
}

use tracing::Instrument as _;

async fn with_upstream<C: Stream + ResetOnDrop>(mut client: C, id: String, context: &Context) {
    let recorder = Recorder::new(context.shared.clone(), id);
    let upstream = &context.upstream;
    let tcp = match TcpStream::connect((upstream.host.as_str(), upstream.port)).await {
        Ok(tcp) => tcp,
        Err(e) => return refuse_upstream(&mut client, &recorder, context, e.to_string()).await,
    };
    let _ = tcp.set_nodelay(true);
    match &context.connector {
        None => serve(client, tcp, &recorder, &context.shared.metrics).await,
        Some(connector) => {
            let name = match rustls::pki_types::ServerName::try_from(upstream.host.clone()) {
                Ok(name) => name,
                Err(e) => return refuse_upstream(&mut client, &recorder, context, e.to_string()).await,
            };
            match connector.connect(name, tcp).await {
                Ok(tls) => serve(client, tls, &recorder, &context.shared.metrics).await,
                Err(e) => refuse_upstream(&mut client, &recorder, context, format!("TLS: {e}")).await,
            }
        }
    }
    recorder.close();
}

async fn refuse_upstream<C: Stream>(client: &mut C, recorder: &Recorder, context: &Context, error: String) {
    Metrics::add(&context.shared.metrics.upstream_errors, 1);
    tracing::warn!(error = %error, "cannot connect to the upstream");
    recorder.exception(format!("upstream connect failed: {error}"));
    let _ = client.write_all(BAD_GATEWAY).await;
    let _ = client.shutdown().await;
    linger(client).await;
    recorder.close();
}

/// Reads and discards what a refused client still sends, until it closes or for [`LINGER`] at most: closing a
/// socket with unread bytes makes the kernel reset the connection, which can destroy the answer before the
/// client has read it.
async fn linger<C: AsyncRead + Unpin>(client: &mut C) {
    let mut buf = [0u8; 4096];
    let drain = async { while matches!(client.read(&mut buf).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// A byte stream the proxy can serve (plain TCP or TLS over TCP).
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Makes the client's connection end with a TCP reset, as a direct client would see when the upstream resets.
trait ResetOnDrop {
    fn reset_on_drop(&self);
}

impl ResetOnDrop for TcpStream {
    fn reset_on_drop(&self) {
        let _ = self.set_zero_linger();
    }
}

impl ResetOnDrop for tokio_rustls::server::TlsStream<TcpStream> {
    fn reset_on_drop(&self) {
        let _ = self.get_ref().0.set_zero_linger();
    }
}

/// What the response side must know about the next response, in request order.
#[derive(Debug)]
enum Expect {
    /// A response to a request; `true` for HEAD (no body).
    Response(bool),
    /// Framing was lost: everything from here on is forwarded as-is.
    Opaque,
    /// The client asked for a tunnel: answer 501 once earlier responses are out, then close.
    Refuse,
}

/// How the response side ended.
#[derive(Debug)]
enum Ending {
    /// Every response was delivered and the client finished.
    Done,
    /// The upstream closed.
    UpstreamClosed,
    /// The upstream connection failed.
    UpstreamError(std::io::Error),
    /// The client stopped accepting bytes.
    ClientGone,
    /// A tunnel request was refused.
    Refused,
}

async fn serve<C: Stream + ResetOnDrop, U: Stream>(client: C, upstream: U, recorder: &Recorder, metrics: &Metrics) {
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut upstream_read, mut upstream_write) = tokio::io::split(upstream);
    let (expect_tx, expect_rx) = mpsc::channel(MAX_PIPELINED);
    let ending = {
        let requests = pump_requests(&mut client_read, &mut upstream_write, expect_tx, recorder, metrics);
        let responses = pump_responses(&mut upstream_read, &mut client_write, expect_rx, recorder, metrics);
        tokio::pin!(requests, responses);
        tokio::select! {
            ending = &mut responses => ending,
            () = &mut requests => responses.await,
        }
    };
    let mut client = client_read.unsplit(client_write);
    tracing::debug!(?ending, "connection finished");
    match ending {
        Ending::UpstreamError(e) => {
            Metrics::add(&metrics.upstream_errors, 1);
            recorder.exception(format!("upstream: {e}"));
            client.reset_on_drop();
        }
        Ending::UpstreamClosed => {
            recorder.disconnect();
            let _ = client.shutdown().await;
        }
        Ending::Done | Ending::Refused => {
            let _ = client.shutdown().await;
        }
        Ending::ClientGone => {}
    }
}

async fn pump_requests<R, W>(
    client: &mut R,
    upstream: &mut W,
    expect: mpsc::Sender<Expect>,
    recorder: &Recorder,
    metrics: &Metrics,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; BUFFER];
    let mut framer = Framer::new(Side::Request);
    // A head is forwarded only once complete, so a refused request never reaches the upstream.
    let mut held: Vec<u8> = Vec::new();
    let mut current: Option<Head> = None;
    let mut opaque = false;
    loop {
        let n = match client.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                recorder.exception(format!("client read: {e}"));
                break;
            }
        };
        let mut input = buf.get(..n).unwrap_or_default();
        while !input.is_empty() {
            if opaque {
                if forward(upstream, input, metrics).await.is_err() {
                    return;
                }
                recorder.read(input);
                break;
            }
            let in_head = framer.in_head();
            let step = match framer.next(input) {
                Ok(step) => step,
                Err(e) => {
                    // Not HTTP this proxy can frame: keep the bytes flowing unchanged (the upstream answers as it
                    // would without the proxy) and record them without request boundaries.
                    tracing::debug!(error = %e, "request framing lost");
                    recorder.exception(format!("{e}; the rest of the connection is forwarded unframed"));
                    opaque = true;
                    if expect.send(Expect::Opaque).await.is_err() {
                        return;
                    }
                    if !held.is_empty() {
                        if forward(upstream, &held, metrics).await.is_err() {
                            return;
                        }
                        recorder.read(&held);
                        held.clear();
                    }
                    continue;
                }
            };
            let (part, rest) = input.split_at(step.consumed.min(input.len()));
            input = rest;
            match step.event {
                None if in_head => held.extend_from_slice(part),
                None => {
                    if forward(upstream, part, metrics).await.is_err() {
                        return;
                    }
                    recorder.read(part);
                }
                Some(Event::Head(head)) => {
                    held.extend_from_slice(part);
                    if head.wants_tunnel {
                        recorder.exception(format!("refused {} {}: tunnels are not proxied", head.method, head.target));
                        let _ = expect.send(Expect::Refuse).await;
                        return;
                    }
                    if expect.send(Expect::Response(head.method.eq_ignore_ascii_case("HEAD"))).await.is_err() {
                        return;
                    }
                    recorder.request_head(&head, &held);
                    if forward(upstream, &held, metrics).await.is_err() {
                        return;
                    }
                    held.clear();
                    if framer.message_done() {
                        recorder.end_of_message(&head);
                    } else {
                        current = Some(head);
                    }
                }
                Some(Event::End) => {
                    if forward(upstream, part, metrics).await.is_err() {
                        return;
                    }
                    recorder.read(part);
                    if let Some(head) = current.take() {
                        recorder.end_of_message(&head);
                    }
                }
            }
        }
    }
    if !held.is_empty() {
        // The client stopped in the middle of a head. The upstream still gets those bytes, as it would without
        // the proxy, and whatever it answers before closing is passed on unframed.
        if expect.send(Expect::Opaque).await.is_err() || forward(upstream, &held, metrics).await.is_err() {
            return;
        }
        recorder.read(&held);
    }
    // The client is done sending: pass the half-close on, so an upstream waiting for more body sees the end.
    let _ = upstream.shutdown().await;
}

async fn forward<W: AsyncWrite + Unpin>(upstream: &mut W, bytes: &[u8], metrics: &Metrics) -> std::io::Result<()> {
    upstream.write_all(bytes).await?;
    Metrics::add(&metrics.client_bytes, bytes.len() as u64);
    Ok(())
}

struct ResponseSide {
    framer: Framer,
    pending: VecDeque<Expect>,
    expect: mpsc::Receiver<Expect>,
    requests_done: bool,
    /// A response is expected and the framer is set up for it.
    active: bool,
    opaque: bool,
}

impl ResponseSide {
    /// Sets up the framer for the next response if its request is known. `Some` ends the connection.
    fn arm(&mut self) -> Option<Ending> {
        if self.active || self.opaque {
            return None;
        }
        while let Ok(e) = self.expect.try_recv() {
            self.pending.push_back(e);
        }
        match self.pending.pop_front() {
            Some(Expect::Response(head_request)) => {
                self.framer.expect_head_response(head_request);
                self.active = true;
            }
            Some(Expect::Opaque) => self.opaque = true,
            Some(Expect::Refuse) => return Some(Ending::Refused),
            None if self.requests_done => return Some(Ending::Done),
            None => {}
        }
        None
    }
}

async fn pump_responses<R, W>(
    upstream: &mut R,
    client: &mut W,
    expect: mpsc::Receiver<Expect>,
    recorder: &Recorder,
    metrics: &Metrics,
) -> Ending
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; BUFFER];
    let mut side = ResponseSide {
        framer: Framer::new(Side::Response),
        pending: VecDeque::new(),
        expect,
        requests_done: false,
        active: false,
        opaque: false,
    };
    loop {
        if let Some(ending) = side.arm() {
            if matches!(ending, Ending::Refused) && client.write_all(REFUSAL).await.is_err() {
                return Ending::ClientGone;
            }
            return ending;
        }
        let idle = !side.active && !side.opaque;
        let read = if idle {
            tokio::select! {
                e = side.expect.recv() => {
                    match e {
                        Some(e) => side.pending.push_back(e),
                        None => side.requests_done = true,
                    }
                    continue;
                }
                read = upstream.read(&mut buf) => read,
            }
        } else {
            upstream.read(&mut buf).await
        };
        let n = match read {
            Ok(0) => {
                if side.active && side.framer.until_close() {
                    recorder.response_complete();
                }
                return Ending::UpstreamClosed;
            }
            Ok(n) => n,
            Err(e) => return Ending::UpstreamError(e),
        };
        let mut input = buf.get(..n).unwrap_or_default();
        while !input.is_empty() {
            if !side.active && !side.opaque {
                // Bytes arrived, so they are delivered even when the client has finished sending; only a pending
                // refusal ends the connection here.
                if let Some(Ending::Refused) = side.arm() {
                    return Ending::Refused;
                }
                if !side.active && !side.opaque {
                    // The upstream spoke without being asked (e.g. a 408 before closing): pass it on unframed.
                    recorder.exception("response bytes with no request waiting; forwarding unframed".to_string());
                    side.opaque = true;
                }
            }
            if side.opaque {
                if deliver(client, input, metrics).await.is_err() {
                    return Ending::ClientGone;
                }
                recorder.write(input);
                break;
            }
            let step = match side.framer.next(input) {
                Ok(step) => step,
                Err(e) => {
                    tracing::debug!(error = %e, "response framing lost");
                    recorder.exception(format!("{e}; the rest of the connection is forwarded unframed"));
                    side.opaque = true;
                    continue;
                }
            };
            let (part, rest) = input.split_at(step.consumed.min(input.len()));
            input = rest;
            if deliver(client, part, metrics).await.is_err() {
                return Ending::ClientGone;
            }
            recorder.write(part);
            let complete = match step.event {
                Some(Event::Head(head)) => !head.is_interim() && side.framer.message_done(),
                Some(Event::End) => true,
                None => false,
            };
            if complete {
                side.active = false;
                recorder.response_complete();
            }
        }
    }
}

async fn deliver<W: AsyncWrite + Unpin>(client: &mut W, bytes: &[u8], metrics: &Metrics) -> std::io::Result<()> {
    client.write_all(bytes).await?;
    client.flush().await?;
    Metrics::add(&metrics.upstream_bytes, bytes.len() as u64);
    Ok(())
}

/// Serves `GET /metrics` (any path, in fact) in the Prometheus text format.
async fn serve_metrics(addr: &str, metrics: Arc<Metrics>) -> Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await.map_err(|source| Error::Bind { addr: addr.to_string(), source })?;
    let local = listener.local_addr().map_err(|source| Error::Bind { addr: addr.to_string(), source })?;
    ferry_ops::metrics_endpoint::serve(listener, move || metrics.render());
    Ok(local)
}
