//! TLS on both sides: the listener's server config (optionally requiring client certificates) and the client
//! config for an https upstream.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{TlsListenerConfig, UpstreamTlsConfig};
use crate::error::{Error, Result};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| Error::Tls(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(Error::Tls(format!("{}: no certificate found", path.display())));
    }
    Ok(certs)
}

fn roots(path: &Path) -> Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs(path)? {
        roots.add(cert).map_err(|e| Error::Tls(format!("{}: {e}", path.display())))?;
    }
    Ok(roots)
}

/// The acceptor for a TLS listener.
pub(crate) fn acceptor(config: &TlsListenerConfig) -> Result<tokio_rustls::TlsAcceptor> {
    let chain = certs(&config.cert)?;
    let key =
        PrivateKeyDer::from_pem_file(&config.key).map_err(|e| Error::Tls(format!("{}: {e}", config.key.display())))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?;
    let builder = match &config.client_ca {
        Some(ca) => {
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca)?), provider())
                    .build()
                    .map_err(|e| Error::Tls(format!("client CA {}: {e}", ca.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut server = builder.with_single_cert(chain, key).map_err(|e| Error::Tls(e.to_string()))?;
    // Only HTTP/1.1 is proxied; advertising it keeps ALPN-speaking clients from trying h2.
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(server)))
}

/// The connector for an https upstream.
pub(crate) fn connector(config: &UpstreamTlsConfig) -> Result<tokio_rustls::TlsConnector> {
    let roots = match &config.ca {
        Some(ca) => roots(ca)?,
        None => rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() },
    };
    let client = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(client)))
}
