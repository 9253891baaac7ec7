//! https through a rustls TLS-terminating forwarder (rcgen test CA) in front of osmem-server.

mod common;

use bytes::Bytes;
use common::{TestPki, TlsForwarder};
use ferry_client::{Auth, Client, ClusterConfig, Distribution, Error, Secret, TlsOptions};
use ferry_tests::Osmem;
use http::Method;

fn https_config(url: String, tls: TlsOptions) -> ClusterConfig {
    ClusterConfig { tls, ..ClusterConfig::new(url) }
}

fn ca_file(dir: &tempfile::TempDir, name: &str, pem: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, pem).unwrap();
    path
}

#[tokio::test]
async fn custom_ca_is_trusted_and_others_are_not() {
    let osmem = Osmem::start();
    let pki = TestPki::new("ferry test CA");
    let forwarder = TlsForwarder::start(&pki, osmem.addr().to_string()).await;
    let dir = tempfile::tempdir().unwrap();

    // Trusting the CA that signed the server certificate: the whole exchange works, basic auth included.
    let trusted = ca_file(&dir, "ca.pem", &pki.ca_pem);
    let client = Client::new(ClusterConfig {
        auth: Auth::Basic { username: "admin".into(), password: Secret::new("tls-pw") },
        ..https_config(forwarder.url(), TlsOptions { ca_file: Some(trusted), insecure: false })
    })
    .unwrap();
    let info = client.info().await.unwrap();
    assert_eq!(info.distribution, Distribution::OpenSearch);
    let bulk = Bytes::from_static(b"{\"index\":{\"_index\":\"tls\",\"_id\":\"1\"}}\n{\"over\":\"tls\"}\n");
    assert_eq!(client.request_ndjson(Method::POST, "/_bulk?refresh=true", bulk).await.unwrap().status, 200);
    let (status, doc) = client.get_json("/tls/_doc/1").await.unwrap();
    assert_eq!((status, doc["_source"]["over"].as_str()), (200, Some("tls")));
    // The forwarder saw the decrypted requests, with the credentials as base64("admin:tls-pw").
    let seen = forwarder.seen_text();
    assert!(seen.starts_with("GET / HTTP/1.1\r\n"), "{seen}");
    assert!(seen.contains("authorization: Basic YWRtaW46dGxzLXB3\r\n"), "{seen}");

    // A different CA: the handshake fails with a TLS error naming the URL and the reason.
    let other = TestPki::new("some other CA");
    let wrong = ca_file(&dir, "other.pem", &other.ca_pem);
    let client =
        Client::new(https_config(forwarder.url(), TlsOptions { ca_file: Some(wrong), insecure: false })).unwrap();
    match client.info().await {
        Err(Error::Tls { url, message }) => {
            assert_eq!(url, format!("{}/", forwarder.url()));
            assert!(message.contains("UnknownIssuer"), "{message}");
        }
        other => panic!("expected a TLS error, got {other:?}"),
    }

    // The default (Mozilla) roots do not know the test CA either.
    let client = Client::new(ClusterConfig::new(forwarder.url())).unwrap();
    let error = client.info().await.unwrap_err();
    assert!(matches!(error, Error::Tls { .. }), "{error:?}");
    assert!(error.to_string().contains("tls.ca_file"), "the message should say what to fix: {error}");

    // Insecure mode skips verification and works.
    let client = Client::new(https_config(forwarder.url(), TlsOptions { ca_file: None, insecure: true })).unwrap();
    assert_eq!(client.info().await.unwrap().distribution, Distribution::OpenSearch);
}

#[test]
fn unusable_tls_options_are_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let url = "https://127.0.0.1:9200".to_string();
    let cases = [
        TlsOptions { ca_file: Some(dir.path().join("missing.pem")), insecure: false },
        TlsOptions { ca_file: Some(ca_file(&dir, "empty.pem", "no certificate here\n")), insecure: false },
        TlsOptions {
            ca_file: Some(ca_file(&dir, "bad.pem", "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n")),
            insecure: false,
        },
        TlsOptions { ca_file: Some(ca_file(&dir, "ok.pem", &TestPki::new("ca").ca_pem)), insecure: true },
    ];
    for tls in cases {
        let result = Client::new(https_config(url.clone(), tls.clone()));
        assert!(matches!(result, Err(Error::InvalidConfig(_))), "{tls:?} was accepted");
    }
}
