//! SigV4 on the wire: credentials from the standard AWS chain (environment), the signature recomputed
//! independently from the bytes the server received.
//!
//! Only one test here touches the process environment (the AWS variables); nothing else in this binary reads it.

mod common;

use std::io::Read;

use bytes::Bytes;
use common::{sigv4_signature, RawServer, Script};
use ferry_client::{Auth, Client, ClusterConfig, SigV4Service};
use http::Method;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

#[test]
fn independent_verifier_matches_the_aws_test_suite() {
    // aws-signing-test-suite v4/get-vanilla.
    let head = "GET / HTTP/1.1\r\nHost:example.amazonaws.com\r\nX-Amz-Date:20150830T123600Z\r\n\
                Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
    assert_eq!(sigv4_signature(head, b"", SECRET), "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

#[tokio::test]
async fn signed_requests_verify_against_an_independent_computation() {
    std::env::set_var("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET);
    std::env::set_var("AWS_SESSION_TOKEN", "test-session-token");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    std::env::set_var("AWS_CONFIG_FILE", "/nonexistent/ferry-test/config");
    std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/ferry-test/credentials");

    let server = RawServer::start(Script::KeepAlive).await;
    for (service, gzip) in [(SigV4Service::Es, true), (SigV4Service::Aoss, false)] {
        let auth = Auth::SigV4 { region: "eu-west-1".into(), service };
        let client = Client::new(ClusterConfig { auth, gzip, ..ClusterConfig::new(server.url()) }).unwrap();
        client.request(Method::GET, "/", None).await.unwrap();
        let bulk = Bytes::from_static(b"{\"index\":{\"_index\":\"i\",\"_id\":\"1\"}}\n{\"a\":1}\n");
        client.request_ndjson(Method::POST, "/_bulk?refresh=false&timeout=1m", bulk.clone()).await.unwrap();
    }

    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    for (request, service) in requests.iter().zip(["es", "es", "aoss", "aoss"]) {
        let authorization = request.header("authorization").unwrap();
        let date = &request.header("x-amz-date").unwrap()[..8];
        let prefix =
            format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{date}/eu-west-1/{service}/aws4_request, SignedHeaders=");
        assert!(authorization.starts_with(&prefix), "{authorization}");
        let signed_headers = authorization.split("SignedHeaders=").nth(1).unwrap().split(',').next().unwrap();
        for needed in ["host", "x-amz-content-sha256", "x-amz-date", "x-amz-security-token"] {
            assert!(signed_headers.split(';').any(|h| h == needed), "{needed} not signed: {authorization}");
        }
        assert_eq!(request.header("x-amz-security-token"), Some("test-session-token"));
        // The payload hash is of the bytes actually sent (the gzip body for `es` bulk), never UNSIGNED-PAYLOAD.
        let sha = ring::digest::digest(&ring::digest::SHA256, &request.body);
        let hex: String = sha.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(request.header("x-amz-content-sha256"), Some(hex.as_str()));
        let signature = authorization.rsplit("Signature=").next().unwrap();
        assert_eq!(signature, sigv4_signature(&request.head, &request.body, SECRET), "{}", request.head);
    }
    let gz_bulk = &requests[1];
    assert_eq!(gz_bulk.header("content-encoding"), Some("gzip"));
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(&gz_bulk.body[..]).read_to_end(&mut inflated).unwrap();
    assert!(inflated.starts_with(b"{\"index\""));
}
