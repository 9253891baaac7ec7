//! Against a real OpenSearch-compatible server (osmem-server): version detection, JSON requests, and `_bulk`
//! with and without gzip landing documents.

use bytes::Bytes;
use ferry_client::{Client, ClusterConfig, Distribution, Error, Version};
use ferry_tests::Osmem;
use http::Method;
use serde_json::{json, Value};

fn client(osmem: &Osmem, gzip: bool) -> Client {
    Client::new(ClusterConfig { gzip, ..ClusterConfig::new(osmem.url()) }).unwrap()
}

#[tokio::test]
async fn info_detects_opensearch_and_its_version() {
    let osmem = Osmem::start();
    let info = client(&osmem, false).info().await.unwrap();
    assert_eq!(info.distribution, Distribution::OpenSearch);
    assert_eq!(info.version, Version { major: 3, minor: 8, patch: 0 });
    assert!(!info.cluster_name.is_empty());
    assert_eq!(info.raw["version"]["number"], "3.8.0");
}

#[tokio::test]
async fn json_requests_round_trip() {
    let osmem = Osmem::start();
    let client = client(&osmem, false);
    let body = json!({"settings": {"number_of_shards": 1}, "mappings": {"properties": {"n": {"type": "long"}}}});
    let created = client.request(Method::PUT, "/things", Some(Bytes::from(body.to_string()))).await.unwrap();
    assert_eq!(created.status, 200, "{}", String::from_utf8_lossy(&created.body));
    assert_eq!(created.json().unwrap()["acknowledged"], true);
    assert!(created.headers.get("content-type").is_some_and(|v| v.to_str().unwrap().starts_with("application/json")));

    let again = client.request(Method::PUT, "/things", Some(Bytes::from(body.to_string()))).await.unwrap();
    assert_eq!(again.status, 400);
    match again.error_for_status(&client.url("/things")) {
        Err(Error::Http { status: 400, excerpt, url }) => {
            assert!(excerpt.contains("resource_already_exists_exception"), "{excerpt}");
            assert_eq!(url, format!("{}/things", osmem.url()));
        }
        other => panic!("expected an HTTP error, got {other:?}"),
    }

    let (status, mapping) = client.get_json("/things/_mapping").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(mapping["things"]["mappings"]["properties"]["n"]["type"], "long");
    let (status, missing) = client.get_json("/nothing-here").await.unwrap();
    assert_eq!((status, missing["error"]["type"].as_str()), (404, Some("index_not_found_exception")));
}

/// NDJSON for `count` documents with explicit ids `{prefix}-{i}`.
fn bulk_body(index: &str, prefix: &str, count: usize) -> Bytes {
    let mut body = String::new();
    for i in 0..count {
        body.push_str(&json!({"index": {"_index": index, "_id": format!("{prefix}-{i}")}}).to_string());
        body.push('\n');
        body.push_str(&json!({"n": i, "text": "the same words compress well ".repeat(4)}).to_string());
        body.push('\n');
    }
    Bytes::from(body)
}

async fn bulk_lands(gzip: bool) {
    let osmem = Osmem::start();
    let client = client(&osmem, gzip);
    let response =
        client.request_ndjson(Method::POST, "/_bulk?refresh=true", bulk_body("docs", "d", 500)).await.unwrap();
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    let result = response.json().unwrap();
    assert_eq!(result["errors"], false, "{result}");
    assert_eq!(result["items"].as_array().map(Vec::len), Some(500));

    let (status, count) = client.get_json("/docs/_count").await.unwrap();
    assert_eq!((status, count["count"].as_u64()), (200, Some(500)));
    let (status, doc) = client.get_json("/docs/_doc/d-321").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(doc["_source"]["n"], Value::from(321));
}

#[tokio::test]
async fn bulk_lands_documents() {
    bulk_lands(false).await;
}

#[tokio::test]
async fn gzip_bulk_lands_documents() {
    bulk_lands(true).await;
}
