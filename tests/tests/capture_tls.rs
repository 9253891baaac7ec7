//! The capture proxy over TLS, end to end: the real `ferry capture` binary with an HTTPS listener that requires
//! client certificates, in front of an HTTPS upstream (a rustls server in this test, certificates from a test CA
//! made with rcgen). Clients without a certificate or with one from an unknown CA are refused during the
//! handshake; a good client sees exactly the bytes the upstream sends it directly; the capture holds the
//! plaintext exchanges; an upstream whose certificate the proxy cannot verify gets the client a 502 and is
//! counted as an upstream error.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use ferry_tests::capture_log::{b64, inspect};
use ferry_tests::process::CaptureProxy;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};

const TIMEOUT: Duration = Duration::from_secs(60);

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A test certificate authority.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
    der: CertificateDer<'static>,
}

/// A certificate and its key, as PEM (for the proxy's configuration) and DER (for rustls in this test).
struct Identity {
    cert_pem: String,
    key_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).expect("CA certificate");
        Ca { pem: cert.pem(), der: cert.der().clone(), issuer: Issuer::new(params, key) }
    }

    /// A server certificate for 127.0.0.1 (`client` false) or a client certificate.
    fn issue(&self, name: &str, client: bool) -> Identity {
        let key = KeyPair::generate().expect("leaf key");
        let sans = if client { Vec::new() } else { vec!["127.0.0.1".to_string(), "localhost".to_string()] };
        let mut params = CertificateParams::new(sans).expect("leaf params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages =
            vec![if client { ExtendedKeyUsagePurpose::ClientAuth } else { ExtendedKeyUsagePurpose::ServerAuth }];
        let cert = params.signed_by(&key, &self.issuer).expect("leaf certificate");
        Identity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            chain: vec![cert.der().clone(), self.der.clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }

    fn roots(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.der.clone()).expect("CA root");
        roots
    }
}

/// An HTTPS upstream: answers each request with a body derived from the request bytes (method, target, body
/// length and checksum); `/big` gets a 300 KB body. Keep-alive; ends connections with `close_notify`.
struct TlsUpstream {
    addr: String,
}

impl TlsUpstream {
    fn start(identity: &Identity) -> TlsUpstream {
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(identity.chain.clone(), identity.key.clone_key())
            .expect("upstream certificate");
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        thread::spawn(move || {
            for tcp in listener.incoming().map_while(Result::ok) {
                let config = config.clone();
                thread::spawn(move || {
                    let Ok(conn) = rustls::ServerConnection::new(config) else { return };
                    let _ = upstream_connection(rustls::StreamOwned::new(conn, tcp));
                });
            }
        });
        TlsUpstream { addr }
    }
}

type ServerStream = rustls::StreamOwned<rustls::ServerConnection, TcpStream>;

fn upstream_connection(tls: ServerStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(tls);
    loop {
        let mut first = String::new();
        if reader.read_line(&mut first)? == 0 {
            break;
        }
        let parts: Vec<String> = first.split_whitespace().map(str::to_string).collect();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 || line == "\r\n" {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body)?;
        let sum = body.iter().fold(0u32, |a, &b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
        let (method, target) = (parts.first().cloned().unwrap_or_default(), parts.get(1).cloned().unwrap_or_default());
        let mut answer = format!("{method} {target} len={length} sum={sum:08x}\n");
        if target == "/big" {
            answer.extend((0..300_000u32).map(|i| char::from(b'a' + (i % 26) as u8)));
        }
        let tls = reader.get_mut();
        write!(tls, "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{answer}", answer.len())?;
        tls.flush()?;
    }
    let tls = reader.get_mut();
    tls.conn.send_close_notify();
    tls.flush()
}

/// What a TLS client got: the bytes received, and the error that ended the connection (`None`: a clean close).
struct Received {
    bytes: Vec<u8>,
    error: Option<String>,
}

/// Sends `request` over TLS to `addr` trusting `roots`, presenting `identity` if given, then closes its sending
/// side (`close_notify`) and reads until the server closes.
fn https(addr: &str, roots: rustls::RootCertStore, identity: Option<&Identity>, request: &[u8]) -> Received {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots);
    let config = match identity {
        Some(id) => builder.with_client_auth_cert(id.chain.clone(), id.key.clone_key()).expect("client identity"),
        None => builder.with_no_client_auth(),
    };
    let name = ServerName::try_from("127.0.0.1").expect("server name");
    let conn = rustls::ClientConnection::new(Arc::new(config), name).expect("client connection");
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let sent = tls.write_all(request).and_then(|()| tls.flush());
    tls.conn.send_close_notify();
    let sent = sent.and_then(|()| tls.flush());
    let mut bytes = Vec::new();
    let read = tls.read_to_end(&mut bytes);
    let error = match (sent, read) {
        (_, Err(e)) | (Err(e), Ok(_)) => Some(e.to_string()),
        (Ok(()), Ok(_)) => None,
    };
    Received { bytes, error }
}

/// PEM files and the proxy configuration in a temporary directory.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        Setup { dir: tempfile::tempdir().expect("tempdir") }
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write file");
        path
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("log")
    }

    /// A configuration: TLS listener with `listener`'s certificate, client certificates from `client_ca` when
    /// given, the https upstream at `upstream` trusted through `upstream_ca`.
    fn config(&self, listener: &Identity, client_ca: Option<&Ca>, upstream: &str, upstream_ca: &Ca) -> PathBuf {
        let cert = self.file("proxy.pem", &listener.cert_pem);
        let key = self.file("proxy.key", &listener.key_pem);
        let upstream_ca = self.file("upstream-ca.pem", &upstream_ca.pem);
        let client_ca = client_ca.map(|ca| self.file("client-ca.pem", &ca.pem));
        let mut toml = format!(
            "listen = \"127.0.0.1:0\"\nupstream = \"https://{upstream}\"\nmetrics_listen = \"127.0.0.1:0\"\n\
             [tls]\ncert = {cert:?}\nkey = {key:?}\n"
        );
        if let Some(ca) = client_ca {
            toml.push_str(&format!("client_ca = {ca:?}\n"));
        }
        toml.push_str(&format!("[upstream_tls]\nca = {upstream_ca:?}\n[capture]\nlog_dir = {:?}\n", self.log()));
        self.file("capture.toml", &toml)
    }
}

fn assert_refused(what: &str, received: &Received) {
    assert!(received.bytes.is_empty(), "{what}: got {:?}", String::from_utf8_lossy(&received.bytes));
    let error = received.error.as_deref().unwrap_or_else(|| panic!("{what}: the connection ended without an error"));
    // A clean refusal is a TLS alert from the proxy, not a hang or a bare reset.
    assert!(error.contains("alert"), "{what}: {error}");
}

#[test]
fn mutual_tls_in_front_of_an_https_upstream_is_byte_identical_and_captured_in_plaintext() {
    let (server_ca, client_ca, rogue_ca) = (Ca::new("server CA"), Ca::new("client CA"), Ca::new("rogue CA"));
    let upstream = TlsUpstream::start(&server_ca.issue("upstream", false));
    let setup = Setup::new();
    let config = setup.config(&server_ca.issue("proxy", false), Some(&client_ca), &upstream.addr, &server_ca);
    let proxy = CaptureProxy::with_config(&config, &[]);
    let good = client_ca.issue("good client", true);
    let get = b"GET /idx/_doc/1 HTTP/1.1\r\nhost: x\r\n\r\n".to_vec();

    assert_refused("no client certificate", &https(proxy.addr(), server_ca.roots(), None, &get));
    let rogue = rogue_ca.issue("rogue client", true);
    assert_refused(
        "client certificate from an unknown CA",
        &https(proxy.addr(), server_ca.roots(), Some(&rogue), &get),
    );

    let pipelined = [
        &b"GET /a HTTP/1.1\r\nhost: x\r\n\r\n"[..],
        b"POST /idx/_bulk HTTP/1.1\r\nhost: x\r\ncontent-length: 11\r\n\r\n{\"a\":true}\n",
        b"GET /big HTTP/1.1\r\nhost: x\r\n\r\n",
    ]
    .concat();
    let cases = [(get.clone(), 1), (pipelined, 3)];
    for (request, _) in &cases {
        let direct = https(&upstream.addr, server_ca.roots(), None, request);
        let proxied = https(proxy.addr(), server_ca.roots(), Some(&good), request);
        assert_eq!(direct.error, None);
        assert_eq!(proxied.error, None, "the proxy ends the connection with close_notify");
        assert!(direct.bytes.starts_with(b"HTTP/1.1 200 OK"));
        assert!(proxied.bytes == direct.bytes, "responses differ:\n{}", String::from_utf8_lossy(&proxied.bytes));
    }
    assert_eq!(proxy.metric("ferry_capture_upstream_errors_total"), 0.0);
    proxy.stop();

    let (lines, _) = inspect(&setup.log());
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(lines.iter().all(|l| l["complete"] == true), "{lines:?}");
    let requests: Vec<u8> = lines.iter().flat_map(|l| b64(l, "request_base64")).collect();
    let sent: Vec<u8> = cases.iter().flat_map(|(r, _)| r.clone()).collect();
    assert!(requests == sent, "the capture holds the plaintext requests");
    let big = lines.iter().find(|l| l["path"] == "/big").expect("the /big exchange");
    let response = b64(big, "response_base64");
    assert!(response.starts_with(b"HTTP/1.1 200 OK") && response.len() > 300_000, "{} bytes", response.len());
}

#[test]
fn an_upstream_certificate_from_another_ca_gets_the_client_a_502_and_counts_an_upstream_error() {
    let (server_ca, other_ca) = (Ca::new("server CA"), Ca::new("other CA"));
    let upstream = TlsUpstream::start(&server_ca.issue("upstream", false));
    let setup = Setup::new();
    // The proxy trusts `other_ca` for the upstream, which shows a certificate from `server_ca`.
    let config = setup.config(&server_ca.issue("proxy", false), None, &upstream.addr, &other_ca);
    let proxy = CaptureProxy::with_config(&config, &[]);
    let received = https(proxy.addr(), server_ca.roots(), None, b"GET / HTTP/1.1\r\nhost: x\r\n\r\n");
    assert_eq!(received.error, None);
    let text = String::from_utf8_lossy(&received.bytes);
    assert!(text.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{text}");
    assert_eq!(proxy.metric("ferry_capture_upstream_errors_total"), 1.0);
    // The proxy keeps serving, and a second refusal is counted too.
    let again = https(proxy.addr(), server_ca.roots(), None, b"GET / HTTP/1.1\r\nhost: x\r\n\r\n");
    assert!(again.bytes.starts_with(b"HTTP/1.1 502 "));
    assert_eq!(proxy.metric("ferry_capture_upstream_errors_total"), 2.0);
    proxy.stop();
}
