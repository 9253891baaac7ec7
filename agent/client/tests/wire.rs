//! What the client puts on the wire, and how it survives connections the server drops, observed with a
//! scripted raw HTTP server.

mod common;

use std::io::Read;
use std::time::Duration;

use bytes::Bytes;
use common::{RawServer, Script};
use ferry_client::{Auth, Client, ClusterConfig, Error, Secret};
use http::Method;

fn config(url: String) -> ClusterConfig {
    ClusterConfig::new(url)
}

#[tokio::test]
async fn json_and_ndjson_headers_and_gzip_bodies() {
    let server = RawServer::start(Script::KeepAlive).await;
    let plain = Client::new(config(server.url())).unwrap();
    let gzip = Client::new(ClusterConfig { gzip: true, ..config(server.url()) }).unwrap();
    let ndjson = Bytes::from_static(b"{\"index\":{\"_index\":\"i\",\"_id\":\"1\"}}\n{\"a\":1}\n");

    plain.request(Method::PUT, "/i", Some(Bytes::from_static(b"{}"))).await.unwrap();
    plain.request(Method::GET, "/", None).await.unwrap();
    plain.request_ndjson(Method::POST, "/_bulk", ndjson.clone()).await.unwrap();
    gzip.request_ndjson(Method::POST, "/_bulk", ndjson.clone()).await.unwrap();
    // JSON requests stay uncompressed even with gzip on.
    gzip.request(Method::POST, "/i/_search", Some(Bytes::from_static(b"{}"))).await.unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 5);
    let [put, get, bulk, gz_bulk, search] = &requests[..] else { unreachable!() };
    assert!(put.head.starts_with("PUT /i HTTP/1.1"), "{}", put.head);
    assert_eq!(put.header("content-type"), Some("application/json"));
    assert_eq!(put.body, b"{}");
    assert_eq!(get.header("content-type"), None);
    assert_eq!(get.header("host"), Some(server.addr.to_string().as_str()));
    assert!(get.header("user-agent").is_some_and(|ua| ua.starts_with("ferry/")));
    assert_eq!(bulk.header("content-type"), Some("application/x-ndjson"));
    assert_eq!(bulk.header("content-encoding"), None);
    assert_eq!(bulk.body, ndjson);
    assert_eq!(gz_bulk.header("content-type"), Some("application/x-ndjson"));
    assert_eq!(gz_bulk.header("content-encoding"), Some("gzip"));
    assert_eq!(gz_bulk.header("content-length"), Some(gz_bulk.body.len().to_string().as_str()));
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(&gz_bulk.body[..]).read_to_end(&mut inflated).unwrap();
    assert_eq!(inflated, ndjson);
    assert_eq!(search.header("content-encoding"), None);
    // Keep-alive: one connection per client.
    assert_eq!(server.connection_count(), 2);
}

#[tokio::test]
async fn basic_auth_header_is_sent_and_never_printed() {
    let server = RawServer::start(Script::KeepAlive).await;
    let auth = Auth::Basic { username: "ferry".into(), password: Secret::new("s3cr3t-pw") };
    let config = ClusterConfig { auth, ..config(server.url()) };
    assert!(!format!("{config:?}").contains("s3cr3t-pw"));
    let client = Client::new(config).unwrap();
    client.request(Method::GET, "/_cluster/health", None).await.unwrap();
    let requests = server.requests();
    // base64("ferry:s3cr3t-pw")
    assert_eq!(requests[0].header("authorization"), Some("Basic ZmVycnk6czNjcjN0LXB3"));

    // Errors name the URL, not the credentials.
    let unreachable = Client::new(ClusterConfig {
        auth: Auth::Basic { username: "ferry".into(), password: Secret::new("s3cr3t-pw") },
        ..ClusterConfig::new("http://127.0.0.1:1")
    })
    .unwrap();
    let error = unreachable.info().await.unwrap_err();
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    let printed = format!("{error} {error:?}");
    assert!(printed.contains("http://127.0.0.1:1/"), "{printed}");
    assert!(!printed.contains("s3cr3t") && !printed.contains("ZmVycnk6"), "{printed}");
}

#[test]
fn credentials_in_the_url_are_refused_without_echoing_them() {
    let Err(error) = Client::new(ClusterConfig::new("https://ferry:hunter2@search.example:9200")) else {
        panic!("a URL with credentials was accepted");
    };
    assert!(matches!(error, Error::InvalidConfig(_)));
    assert!(!error.to_string().contains("hunter2"), "{error}");
    assert!(error.to_string().contains("https://***@search.example:9200"), "{error}");
    for bad in ["search.example:9200", "ftp://search.example", "http://h:9200/?pretty"] {
        assert!(matches!(Client::new(ClusterConfig::new(bad)), Err(Error::InvalidConfig(_))), "{bad}");
    }
}

/// A regression test for keep-alive connections dropped by the server while idle (osmem after ~60 s, load
/// balancers after their idle timeout): the reused connection dies before any response byte, and the request
/// must still succeed, on a new connection.
#[tokio::test]
async fn reused_connection_closed_by_the_server_is_retried_on_a_fresh_one() {
    let server = RawServer::start(Script::DropSecondRequest).await;
    let client = Client::new(config(server.url())).unwrap();
    let client = &client;
    let get = move |path: &'static str| client.request(Method::GET, path, None);
    let post = move |path: &'static str| client.request(Method::POST, path, Some(Bytes::from_static(b"{}")));
    assert_eq!(get("/one").await.unwrap().json().unwrap()["connection"], 0);
    // Reuses connection 0, which the server drops: retried on connection 1.
    assert_eq!(get("/get-again").await.unwrap().json().unwrap()["connection"], 1);
    // The retry's connection is not pooled, so this one opens connection 2, which then sits idle in the pool.
    assert_eq!(post("/two").await.unwrap().json().unwrap()["connection"], 2);
    // A POST (as `_bulk` is) on the dropped connection 2 is retried too, on connection 3.
    assert_eq!(post("/post-again").await.unwrap().json().unwrap()["connection"], 3);

    let seen: Vec<(usize, String)> =
        server.requests().iter().map(|r| (r.connection, r.head.split(' ').nth(1).unwrap().to_string())).collect();
    let expected =
        [(0, "/one"), (0, "/get-again"), (1, "/get-again"), (2, "/two"), (2, "/post-again"), (3, "/post-again")];
    assert_eq!(seen, expected.map(|(c, p)| (c, p.to_string())));
}

#[tokio::test]
async fn a_fresh_connection_that_dies_is_an_error_not_a_retry_loop() {
    let server = RawServer::start(Script::DropEverything).await;
    let client = Client::new(config(server.url())).unwrap();
    let error = client.request(Method::GET, "/", None).await.unwrap_err();
    assert!(matches!(&error, Error::Io { url, .. } if url.ends_with("/")), "{error:?}");
    assert_eq!(server.connection_count(), 1, "a request that failed on a new connection must not be retried");
}

#[tokio::test]
async fn slow_server_times_out() {
    // Accepts the connection but never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hold = tokio::spawn(async move {
        let _connection = listener.accept().await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let client = Client::new(ClusterConfig { request_timeout: Duration::from_millis(300), ..config(url) }).unwrap();
    let started = std::time::Instant::now();
    let error = client.request(Method::GET, "/", None).await.unwrap_err();
    assert!(matches!(error, Error::Timeout { after, .. } if after == Duration::from_millis(300)), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    hold.abort();
}
