//! Test servers for the client: a scripted raw HTTP/1.1 server that records what arrives, a rustls
//! TLS-terminating forwarder, and an independent SigV4 verifier.
#![allow(dead_code)] // each test binary uses a different part

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use ring::{digest, hmac};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Which accepted connection carried it (0-based).
    pub connection: usize,
    /// Request line and headers, without the final blank line.
    pub head: String,
    pub body: Vec<u8>,
}

impl Recorded {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// What the raw server does with the n-th request (0-based) on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// Answer every request with 200 and keep the connection open.
    KeepAlive,
    /// Answer the first request, then close the connection as soon as a second one arrives, without a byte
    /// of response: what a server or load balancer does when it drops an idle connection just as the client
    /// reuses it.
    DropSecondRequest,
    /// Close every connection on its first request without answering.
    DropEverything,
}

/// A scripted HTTP/1.1 server on 127.0.0.1 that records the requests it reads.
pub struct RawServer {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    pub connections: Arc<Mutex<usize>>,
    task: tokio::task::JoinHandle<()>,
}

impl RawServer {
    pub async fn start(script: Script) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(0usize));
        let (recorded, counted) = (Arc::clone(&requests), Arc::clone(&connections));
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let connection = {
                    let mut count = counted.lock().unwrap();
                    *count += 1;
                    *count - 1
                };
                tokio::spawn(serve(stream, connection, script, Arc::clone(&recorded)));
            }
        });
        RawServer { addr, requests, connections, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn connection_count(&self) -> usize {
        *self.connections.lock().unwrap()
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut stream: TcpStream, connection: usize, script: Script, recorded: Arc<Mutex<Vec<Recorded>>>) {
    let mut buffer = Vec::new();
    for n in 0.. {
        let Some((head, body)) = read_request(&mut stream, &mut buffer).await else { return };
        recorded.lock().unwrap().push(Recorded { connection, head, body });
        let drop_now = match script {
            Script::KeepAlive => false,
            Script::DropSecondRequest => n >= 1,
            Script::DropEverything => true,
        };
        if drop_now {
            return;
        }
        let body = format!(r#"{{"connection":{connection},"request":{n}}}"#);
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Reads one request (head and a content-length body) from `stream`, keeping surplus bytes in `buffer`.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
    let head_end = loop {
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("content-length")))
        .map(|(_, v)| v.trim().parse().unwrap())
        .unwrap_or(0);
    while buffer.len() < head_end + 4 + length {
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = buffer[head_end + 4..head_end + 4 + length].to_vec();
    buffer.drain(..head_end + 4 + length);
    Some((head, body))
}

/// A certificate authority and a server certificate for 127.0.0.1 / localhost signed by it.
pub struct TestPki {
    pub ca_pem: String,
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl TestPki {
    pub fn new(name: &str) -> TestPki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, name);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf_params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
        TestPki {
            ca_pem: ca_cert.pem(),
            chain: vec![leaf.der().clone(), ca_cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        }
    }
}

/// TLS in front of a plain HTTP server: terminates TLS with `pki`'s certificate, forwards the bytes to
/// `upstream`, and keeps a copy of the decrypted client-to-server bytes.
pub struct TlsForwarder {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<u8>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TlsForwarder {
    pub async fn start(pki: &TestPki, upstream: String) -> TlsForwarder {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(pki.chain.clone(), pki.key.clone_key())
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (acceptor, upstream, record) = (acceptor.clone(), upstream.clone(), Arc::clone(&record));
                tokio::spawn(async move {
                    // A client that rejects our certificate aborts the handshake: nothing to forward.
                    let Ok(tls) = acceptor.accept(stream).await else { return };
                    let Ok(plain) = TcpStream::connect(&upstream).await else { return };
                    let (client_read, client_write) = tokio::io::split(tls);
                    let (upstream_read, upstream_write) = plain.into_split();
                    tokio::join!(
                        pump(client_read, upstream_write, Some(record)),
                        pump(upstream_read, client_write, None)
                    );
                });
            }
        });
        TlsForwarder { addr, seen, task }
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub fn seen_text(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned()
    }
}

impl Drop for TlsForwarder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pump(mut from: impl AsyncRead + Unpin, mut to: impl AsyncWrite + Unpin, record: Option<Arc<Mutex<Vec<u8>>>>) {
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(record) = &record {
            record.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
        if to.write_all(&chunk[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data).as_ref().to_vec()
}

/// Recomputes a SigV4 header signature from the request as it arrived (request line, headers, body) and the
/// secret key, written from AWS's specification independently of the `aws-sigv4` crate. Handles the plain paths
/// and simple queries the client sends (no percent-encoding normalisation). Returns the expected signature.
pub fn sigv4_signature(head: &str, body: &[u8], secret: &str) -> String {
    let mut lines = head.lines();
    let request_line = lines.next().unwrap();
    let mut parts = request_line.split(' ');
    let (method, target) = (parts.next().unwrap(), parts.next().unwrap());
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut query_pairs: Vec<(&str, &str)> =
        query.split('&').filter(|p| !p.is_empty()).map(|p| p.split_once('=').unwrap_or((p, ""))).collect();
    query_pairs.sort();
    let canonical_query = query_pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");

    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let get = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap();
    let authorization = get("authorization");
    let field = |key: &str| {
        authorization
            .split([' ', ','])
            .find_map(|part| part.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in {authorization}"))
            .to_string()
    };
    let credential = field("Credential=");
    let signed_headers = field("SignedHeaders=");
    let scope = credential.split_once('/').unwrap().1.to_string();
    let mut scope_parts = scope.split('/');
    let (date, region, service) =
        (scope_parts.next().unwrap(), scope_parts.next().unwrap(), scope_parts.next().unwrap());

    let canonical_headers: String = signed_headers.split(';').map(|name| format!("{name}:{}\n", get(name))).collect();
    let canonical_request = format!(
        "{method}\n{path}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{}",
        hex(digest::digest(&digest::SHA256, body).as_ref())
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
        get("x-amz-date"),
        hex(digest::digest(&digest::SHA256, canonical_request.as_bytes()).as_ref())
    );
    let mut key = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    for part in [region, service, "aws4_request"] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    hex(&hmac_sha256(&key, string_to_sign.as_bytes()))
}
