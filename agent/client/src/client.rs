//! The client: one keep-alive pool per cluster, authentication, gzip, timeouts and the stale-connection retry.

use std::error::Error as StdError;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use http::header::{
    HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HOST, USER_AGENT,
};
use http::{HeaderMap, Method, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tracing::Instrument;

use crate::connect::{tls_config, BornAt, ConnectError, Connector};
use crate::info::ClusterInfo;
use crate::sigv4::Signer;
use crate::{Auth, ClusterConfig, Error, Result};

/// How much of an error body goes into `Error::Http`.
const EXCERPT_BYTES: usize = 512;

const JSON: &str = "application/json";
const NDJSON: &str = "application/x-ndjson";

/// A client for one cluster. Cheap to clone: clones share the connection pool and cached credentials.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("url", &self.inner.base).finish_non_exhaustive()
    }
}

struct Inner {
    /// `scheme://authority` plus the configured path prefix without its trailing slash; never holds credentials.
    base: String,
    host: HeaderValue,
    pooled: HyperClient<Connector, Full<Bytes>>,
    /// A client that never keeps idle connections, so every request through it opens a fresh one.
    fresh: HyperClient<Connector, Full<Bytes>>,
    auth: AuthState,
    gzip: bool,
    request_timeout: Duration,
}

enum AuthState {
    None,
    Basic(HeaderValue),
    SigV4(Signer),
}

/// Headers of a request given to [`Client::send_preserving`] that go out as the request has them instead of
/// being set by the client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Preserve {
    /// Keep the request's `Host` (or send none if it has none) instead of the cluster's.
    pub host: bool,
    /// Keep the request's `Authorization` (or send none) instead of the client's credentials.
    pub authorization: bool,
}

/// A complete HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The whole body (decoded from chunked transfer encoding).
    pub body: Bytes,
}

impl Response {
    /// The body parsed as JSON.
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.body).map_err(|source| Error::Json { what: "response body".into(), source })
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `Ok(self)` for a 2xx status, else `Error::Http` with the status and the start of the body; `url` names
    /// the request in the error.
    pub fn error_for_status(self, url: &str) -> Result<Response> {
        if self.is_success() {
            Ok(self)
        } else {
            Err(Error::Http { url: url.to_string(), status: self.status, excerpt: excerpt(&self.body) })
        }
    }
}

/// The start of a body as text, for error messages.
fn excerpt(body: &[u8]) -> String {
    let end = body.len().min(EXCERPT_BYTES);
    let head = body.get(..end).unwrap_or_default();
    let mut text = String::from_utf8_lossy(head).into_owned();
    if body.len() > end {
        text.push('…');
    }
    text
}

impl Client {
    /// Builds a client; nothing is connected until the first request. Fails on an unusable configuration:
    /// a URL that is not `http(s)://host[:port][/prefix]`, credentials in the URL, an unreadable CA file.
    pub fn new(config: ClusterConfig) -> Result<Client> {
        let shown = redact_userinfo(&config.url);
        let uri: Uri = config.url.parse().map_err(|e| Error::InvalidConfig(format!("url {shown:?}: {e}")))?;
        let scheme = uri
            .scheme()
            .cloned()
            .ok_or_else(|| Error::InvalidConfig(format!("url {shown:?} has no scheme: use http:// or https://")))?;
        let https = match scheme.as_str() {
            "http" => false,
            "https" => true,
            other => return Err(Error::InvalidConfig(format!("url scheme {other:?} is not http or https"))),
        };
        let authority =
            uri.authority().ok_or_else(|| Error::InvalidConfig(format!("url {shown:?} has no host")))?.clone();
        if authority.as_str().contains('@') {
            return Err(Error::InvalidConfig(format!(
                "url {shown:?}: credentials in the url are not accepted: use auth = {{ type = \"basic\", … }}"
            )));
        }
        if uri.query().is_some() {
            return Err(Error::InvalidConfig(format!("url {shown:?} must not have a query")));
        }
        let host = HeaderValue::from_str(&host_header(&authority, https))
            .map_err(|e| Error::InvalidConfig(format!("url host: {e}")))?;
        let base = format!("{scheme}://{authority}{}", uri.path().trim_end_matches('/'));

        let tls = if https { Some(tls_config(&config.tls)?) } else { None };
        let connector = Connector::new(tls);
        let pooled = HyperClient::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(config.idle_timeout)
            .pool_max_idle_per_host(config.max_idle_per_host)
            .build(connector.clone());
        let fresh = HyperClient::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build(connector);

        let auth = match config.auth {
            Auth::None => AuthState::None,
            Auth::Basic { username, password } => {
                use base64::Engine as _;
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{username}:{}", password.expose()));
                let mut value = HeaderValue::from_str(&format!("Basic {token}"))
                    .map_err(|_| Error::InvalidConfig("basic auth user name is not a valid header value".into()))?;
                value.set_sensitive(true);
                AuthState::Basic(value)
            }
            Auth::SigV4 { region, service } => {
                if region.is_empty() {
                    return Err(Error::InvalidConfig("auth.region must name an AWS region".into()));
                }
                AuthState::SigV4(Signer::new(region, service))
            }
        };
        Ok(Client {
            inner: Arc::new(Inner {
                base,
                host,
                pooled,
                fresh,
                auth,
                gzip: config.gzip,
                request_timeout: config.request_timeout,
            }),
        })
    }

    /// The cluster's identity from `GET /`: distribution, version, cluster name.
    pub async fn info(&self) -> Result<ClusterInfo> {
        let response = self.request(Method::GET, "/", None).await?;
        let response = response.error_for_status(&self.url("/"))?;
        let json = serde_json::from_slice(&response.body)
            .map_err(|source| Error::Json { what: format!("GET {}", self.url("/")), source })?;
        ClusterInfo::from_json(json).map_err(|message| Error::Json {
            what: format!("GET {}", self.url("/")),
            source: serde::de::Error::custom(message),
        })
    }

    /// Sends a request with an optional JSON body and returns the response whatever its status.
    pub async fn request(&self, method: Method, path_and_query: &str, body: Option<Bytes>) -> Result<Response> {
        match body {
            Some(body) => self.send_body(method, path_and_query, Some((JSON, body)), false).await,
            None => self.send_body(method, path_and_query, None, false).await,
        }
    }

    /// Sends an NDJSON body (`_bulk`, `_msearch`), gzip-compressed when the configuration says so, and returns
    /// the response whatever its status.
    pub async fn request_ndjson(&self, method: Method, path_and_query: &str, body: Bytes) -> Result<Response> {
        self.send_body(method, path_and_query, Some((NDJSON, body)), self.inner.gzip).await
    }

    /// Sends a prepared request (a replayed one) and returns the response whatever its status. The request's
    /// method, path, query, headers and body go out as given, except that `Host` becomes this cluster's and,
    /// when this client authenticates, its credentials replace any `Authorization` the request carried;
    /// `Content-Length` is recomputed from the body. Only the path and query of the request's URI are used.
    pub async fn send(&self, request: http::Request<Bytes>) -> Result<Response> {
        self.send_preserving(request, Preserve::default()).await
    }

    /// [`Client::send`], keeping the request's own `Host` and/or `Authorization` where `preserve` says so
    /// (a replay rule decided them); a kept `Authorization` also means no SigV4 signature.
    pub async fn send_preserving(&self, request: http::Request<Bytes>, preserve: Preserve) -> Result<Response> {
        let (parts, body) = request.into_parts();
        let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let mut headers = parts.headers;
        if !preserve.host {
            headers.insert(HOST, self.inner.host.clone());
        }
        headers.remove(CONTENT_LENGTH);
        let authenticate = !preserve.authorization;
        if authenticate && !matches!(self.inner.auth, AuthState::None) {
            headers.remove(AUTHORIZATION);
        }
        self.execute(parts.method, path_and_query, headers, body, authenticate).await
    }

    /// `GET path` and its body as JSON, with the status (callers decide what a 404 means).
    pub async fn get_json(&self, path: &str) -> Result<(u16, serde_json::Value)> {
        let response = self.request(Method::GET, path, None).await?;
        let json = serde_json::from_slice(&response.body)
            .map_err(|source| Error::Json { what: format!("GET {}", self.url(path)), source })?;
        Ok((response.status, json))
    }

    /// The full URL of `path_and_query` on this cluster, as errors name it.
    pub fn url(&self, path_and_query: &str) -> String {
        if path_and_query.starts_with('/') {
            format!("{}{path_and_query}", self.inner.base)
        } else {
            format!("{}/{path_and_query}", self.inner.base)
        }
    }

    async fn send_body(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<(&'static str, Bytes)>,
        gzip: bool,
    ) -> Result<Response> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static(JSON));
        headers.insert(USER_AGENT, HeaderValue::from_static(concat!("ferry/", env!("CARGO_PKG_VERSION"))));
        let body = match body {
            Some((content_type, body)) => {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
                if gzip {
                    headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                    gzip_bytes(&body, &self.url(path_and_query))?
                } else {
                    body
                }
            }
            None => Bytes::new(),
        };
        headers.insert(HOST, self.inner.host.clone());
        self.execute(method, path_and_query, headers, body, true).await
    }

    /// One request with its headers ready but for authentication (added when `authenticate`): timeout,
    /// tracing and the stale-connection retry.
    async fn execute(
        &self,
        method: Method,
        path_and_query: &str,
        headers: HeaderMap,
        body: Bytes,
        authenticate: bool,
    ) -> Result<Response> {
        let url = self.url(path_and_query);
        let span = tracing::debug_span!(
            "request",
            %method,
            path = path_and_query,
            status = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        async {
            let started = Instant::now();
            let uri: Uri =
                url.parse().map_err(|e| Error::InvalidConfig(format!("request path {path_and_query:?}: {e}")))?;
            let exchange = self.exchange(&method, &uri, &headers, body, authenticate, &url);
            let result = match tokio::time::timeout(self.inner.request_timeout, exchange).await {
                Ok(result) => result,
                Err(_) => Err(Error::Timeout { url: url.clone(), after: self.inner.request_timeout }),
            };
            let span = tracing::Span::current();
            span.record("duration_ms", u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
            match &result {
                Ok(response) => {
                    span.record("status", response.status);
                    tracing::debug!("response");
                }
                Err(error) => tracing::debug!(%error, "request failed"),
            }
            result
        }
        .instrument(span)
        .await
    }

    /// One exchange, retried once on a fresh connection when a reused connection turns out to be dead.
    async fn exchange(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Bytes,
        authenticate: bool,
        url: &str,
    ) -> Result<Response> {
        let request = self.build(method, uri, headers, &body, authenticate).await?;
        let sent_at = Instant::now();
        let error = match self.inner.pooled.request(request).await {
            Ok(response) => return read_response(response, url).await,
            Err(error) => error,
        };
        if !stale_connection(&error, sent_at) {
            return Err(classify(&error, url));
        }
        tracing::debug!(%error, "pooled connection was closed by the server; retrying on a fresh connection");
        let request = self.build(method, uri, headers, &body, authenticate).await?;
        match self.inner.fresh.request(request).await {
            Ok(response) => read_response(response, url).await,
            Err(error) => Err(classify(&error, url)),
        }
    }

    async fn build(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &Bytes,
        authenticate: bool,
    ) -> Result<http::Request<Full<Bytes>>> {
        let mut request = http::Request::builder()
            .method(method.clone())
            .uri(uri.clone())
            .body(())
            .map_err(|e| Error::InvalidConfig(format!("request {method} {uri}: {e}")))?;
        *request.headers_mut() = headers.clone();
        match &self.inner.auth {
            _ if !authenticate => {}
            AuthState::None => {}
            AuthState::Basic(value) => {
                request.headers_mut().insert(AUTHORIZATION, value.clone());
            }
            AuthState::SigV4(signer) => signer.sign(&mut request, body).await?,
        }
        Ok(request.map(|()| Full::new(body.clone())))
    }
}

/// Whether `error` is the signature of a keep-alive connection the server (or a load balancer) had already
/// closed: the request went out on a connection opened before it was sent and failed before any response byte
/// arrived. Such a request never reached the server's request handling, so sending it again is safe for every
/// method; that includes `POST /_bulk`, whose documents Ferry always sends with explicit ids, so even the
/// unlikely double delivery would overwrite rather than duplicate.
fn stale_connection(error: &hyper_util::client::legacy::Error, sent_at: Instant) -> bool {
    if error.is_connect() {
        return false;
    }
    let reused = error
        .connect_info()
        .map(|info| {
            let mut extensions = http::Extensions::new();
            info.get_extras(&mut extensions);
            extensions.get::<BornAt>().is_some_and(|born| born.0 < sent_at)
        })
        .unwrap_or(false);
    if !reused {
        return false;
    }
    let mut source: Option<&(dyn StdError + 'static)> = error.source();
    while let Some(e) = source {
        if let Some(hyper_error) = e.downcast_ref::<hyper::Error>() {
            if hyper_error.is_incomplete_message() || hyper_error.is_canceled() {
                return true;
            }
        }
        if let Some(io_error) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if matches!(io_error.kind(), ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof) {
                return true;
            }
        }
        source = e.source();
    }
    false
}

/// Maps a hyper-util error to this crate's error, naming `url`.
fn classify(error: &hyper_util::client::legacy::Error, url: &str) -> Error {
    let mut source: Option<&(dyn StdError + 'static)> = error.source();
    while let Some(e) = source {
        if let Some(connect) = e.downcast_ref::<ConnectError>() {
            return match connect {
                ConnectError::Tls(io) => Error::Tls { url: url.to_string(), message: io.to_string() },
                ConnectError::Tcp(_) | ConnectError::Setup(_) => {
                    Error::Connect { url: url.to_string(), message: connect.to_string() }
                }
            };
        }
        source = e.source();
    }
    Error::Io { url: url.to_string(), message: error_chain(error) }
}

/// An error and its sources joined with ": ", since hyper's top-level messages are terse.
fn error_chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

async fn read_response(response: http::Response<hyper::body::Incoming>, url: &str) -> Result<Response> {
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| Error::Io {
            url: url.to_string(),
            message: format!("reading the response body: {}", error_chain(&e)),
        })?
        .to_bytes();
    Ok(Response { status: parts.status.as_u16(), headers: parts.headers, body })
}

fn gzip_bytes(body: &[u8], url: &str) -> Result<Bytes> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::fast());
    encoder
        .write_all(body)
        .and_then(|()| encoder.finish())
        .map(Bytes::from)
        .map_err(|e| Error::Io { url: url.to_string(), message: format!("gzip: {e}") })
}

/// `url` with any `user:password@` replaced by `***@`, for error messages about a URL that may hold credentials.
fn redact_userinfo(url: &str) -> String {
    let authority_start = url.find("://").map_or(0, |i| i.saturating_add(3));
    let rest = url.get(authority_start..).unwrap_or_default();
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest.get(..authority_len).and_then(|authority| authority.rfind('@')) {
        Some(at) => {
            format!("{}***{}", url.get(..authority_start).unwrap_or_default(), rest.get(at..).unwrap_or_default())
        }
        None => url.to_string(),
    }
}

/// The `Host` header as hyper would send it: the port only when it is not the scheme's default.
fn host_header(authority: &http::uri::Authority, https: bool) -> String {
    match authority.port_u16() {
        Some(443) if https => authority.host().to_string(),
        Some(80) if !https => authority.host().to_string(),
        Some(port) => format!("{}:{port}", authority.host()),
        None => authority.host().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_redacted_from_urls_in_messages() {
        assert_eq!(redact_userinfo("https://u:p@h:9200/x@y"), "https://***@h:9200/x@y");
        assert_eq!(redact_userinfo("u:p@h"), "***@h");
        assert_eq!(redact_userinfo("http://h:9200/a?b=c@d"), "http://h:9200/a?b=c@d");
        assert_eq!(redact_userinfo("http://ü:p@h/"), "http://***@h/");
    }

    #[test]
    fn host_header_omits_default_ports() {
        let authority = |s: &str| s.parse::<http::uri::Authority>().unwrap();
        assert_eq!(host_header(&authority("h:443"), true), "h");
        assert_eq!(host_header(&authority("h:443"), false), "h:443");
        assert_eq!(host_header(&authority("h:80"), false), "h");
        assert_eq!(host_header(&authority("h:9200"), true), "h:9200");
        assert_eq!(host_header(&authority("[::1]:9200"), false), "[::1]:9200");
    }

    #[test]
    fn error_excerpts_are_bounded() {
        assert_eq!(excerpt(b"short"), "short");
        let long = excerpt(&[b'x'; 2000]);
        assert!(long.ends_with('…') && long.len() < 600);
        // Cutting inside a UTF-8 sequence must not panic.
        let text = "é".repeat(400);
        assert!(excerpt(text.as_bytes()).ends_with('…'));
    }
}
