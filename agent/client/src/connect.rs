//! Opening connections: TCP through hyper-util's connector, TLS through tokio-rustls, and a birth time on every
//! connection so that a failed request can tell whether it rode on a reused (possibly stale) connection.

use std::error::Error as StdError;
use std::fmt;
use std::fs;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::{Error, Result, TlsOptions};

/// When a connection was opened; attached to hyper's connection info so a request error can be classified.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BornAt(pub(crate) Instant);

/// The rustls configuration for `https://` clusters: webpki roots, a custom CA file, or no verification.
pub(crate) fn tls_config(options: &TlsOptions) -> Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::InvalidConfig(format!("TLS setup: {e}")))?;
    let mut config = match (&options.ca_file, options.insecure) {
        (Some(_), true) => {
            return Err(Error::InvalidConfig(
                "tls.ca_file and tls.insecure exclude each other: trust a CA, or verify nothing".into(),
            ))
        }
        (_, true) => {
            tracing::warn!(
                "tls.insecure is set: server certificates are NOT verified; anyone on the network path can read \
                 and alter cluster traffic"
            );
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider.signature_verification_algorithms)))
                .with_no_client_auth()
        }
        (Some(path), false) => {
            let pem = fs::read(path)
                .map_err(|e| Error::InvalidConfig(format!("cannot read tls.ca_file {}: {e}", path.display())))?;
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| {
                    Error::InvalidConfig(format!("tls.ca_file {} is not valid PEM: {e}", path.display()))
                })?;
                roots.add(cert).map_err(|e| {
                    Error::InvalidConfig(format!("tls.ca_file {} holds an unusable certificate: {e}", path.display()))
                })?;
            }
            if roots.is_empty() {
                return Err(Error::InvalidConfig(format!("tls.ca_file {} holds no PEM certificate", path.display())));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        (None, false) => {
            let roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Accepts any certificate but still checks the handshake signatures, so the session is at least
/// cryptographically consistent; used only for `tls.insecure`.
#[derive(Debug)]
struct NoVerification(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// Why a connection could not be opened; found again in the error chain to produce `Error::Connect`/`Error::Tls`.
#[derive(Debug)]
pub(crate) enum ConnectError {
    /// TCP connect or name resolution failed.
    Tcp(Box<dyn StdError + Send + Sync>),
    /// The TLS handshake failed.
    Tls(io::Error),
    /// An `https://` URL without a TLS configuration, or a host name rustls cannot use.
    Setup(String),
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Tcp(e) => {
                write!(f, "{e}")?;
                // hyper-util's ConnectError hides the OS error ("connection refused") in its source.
                if let Some(source) = e.source() {
                    write!(f, ": {source}")?;
                }
                Ok(())
            }
            ConnectError::Tls(e) => write!(f, "{e}"),
            ConnectError::Setup(message) => f.write_str(message),
        }
    }
}

impl StdError for ConnectError {}

/// hyper's connector: TCP (nodelay) and, for `https://`, a rustls handshake on top.
#[derive(Clone)]
pub(crate) struct Connector {
    http: HttpConnector,
    tls: Option<TlsConnector>,
}

impl Connector {
    pub(crate) fn new(tls: Option<Arc<ClientConfig>>) -> Connector {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        Connector { http, tls: tls.map(TlsConnector::from) }
    }
}

type ConnectFuture = Pin<Box<dyn Future<Output = std::result::Result<Stream, ConnectError>> + Send>>;

impl tower_service::Service<Uri> for Connector {
    type Response = Stream;
    type Error = ConnectError;
    type Future = ConnectFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), ConnectError>> {
        tower_service::Service::<Uri>::poll_ready(&mut self.http, cx).map_err(|e| ConnectError::Tcp(Box::new(e)))
    }

    fn call(&mut self, uri: Uri) -> ConnectFuture {
        let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
        let host = uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_string();
        let tls = self.tls.clone();
        let tcp = self.http.call(uri);
        Box::pin(async move {
            let tcp = tcp.await.map_err(|e| ConnectError::Tcp(Box::new(e)))?;
            if !https {
                return Ok(Stream { io: Io::Plain(tcp), born: Instant::now() });
            }
            let tls = tls.ok_or_else(|| ConnectError::Setup("https requested but TLS is not configured".into()))?;
            let name = ServerName::try_from(host.clone())
                .map_err(|e| ConnectError::Setup(format!("{host:?} is not a valid TLS server name: {e}")))?;
            let stream = tls.connect(name, tcp.into_inner()).await.map_err(ConnectError::Tls)?;
            Ok(Stream { io: Io::Tls(Box::new(TokioIo::new(stream))), born: Instant::now() })
        })
    }
}

/// One connection, plain or TLS.
pub(crate) struct Stream {
    io: Io,
    born: Instant,
}

enum Io {
    Plain(TokioIo<TcpStream>),
    Tls(Box<TokioIo<TlsStream<TcpStream>>>),
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        Connected::new().extra(BornAt(self.born))
    }
}

impl Read for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: ReadBufCursor<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl Write for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
