//! Rules applied to realistic captured Elasticsearch 6 requests, from raw bytes to the rewritten request.

use std::io::{Read as _, Write as _};

use bytes::Bytes;
use ferry_replay_transform::{parse_request, Error, Pinned, RuleConfig, Rules};
use http::Request;

#[derive(serde::Deserialize)]
struct File {
    transform: Vec<RuleConfig>,
}

fn rules(toml_text: &str) -> Rules {
    Rules::new(configs(toml_text)).unwrap()
}

fn configs(toml_text: &str) -> Vec<RuleConfig> {
    toml::from_str::<File>(toml_text).unwrap().transform
}

/// A request as an ES 6 client sends it: keep-alive, JSON content type, a length.
fn captured(method: &str, target: &str, body: &[u8]) -> Vec<u8> {
    let mut raw = format!(
        "{method} {target} HTTP/1.1\r\nHost: source-es6:9200\r\nConnection: keep-alive\r\n\
         User-Agent: elasticsearch-py/6.8.2 (Python 3.8.10)\r\nContent-Type: application/json\r\n"
    )
    .into_bytes();
    if !body.is_empty() {
        raw.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    raw.extend_from_slice(body);
    raw
}

fn apply(rules: &Rules, method: &str, target: &str, body: &[u8]) -> Request<Bytes> {
    rules.apply(parse_request(&captured(method, target, body)).unwrap()).unwrap()
}

fn target_of(request: &Request<Bytes>) -> String {
    request.uri().to_string()
}

fn body_json(request: &Request<Bytes>) -> serde_json::Value {
    serde_json::from_slice(request.body()).unwrap()
}

fn content_length(request: &Request<Bytes>) -> usize {
    request.headers()["content-length"].to_str().unwrap().parse().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

const TYPED_BULK: &str = concat!(
    r#"{"index":{"_index":"twitter","_type":"doc","_id":"1"}}"#,
    "\n",
    r#"{"user":"kimchy","_type":"not metadata","post_date":"2009-11-15T14:12:12","message":"trying out ES"}"#,
    "\n",
    r#"{"create":{"_index":"twitter","_type":"doc","_id":"2","routing":"u1"}}"#,
    "\n",
    r#"{ "user" : "bob",   "nested": {"_index": "twitter"} }"#,
    "\n",
    r#"{"update":{"_id":"1","_type":"doc","_index":"twitter","retry_on_conflict":3}}"#,
    "\n",
    r#"{"doc":{"message":"updated"}}"#,
    "\n",
    r#"{"delete":{"_index":"twitter","_type":"doc","_id":"2"}}"#,
    "\n",
    r#"{"index":{"_index":"logs-2019","_type":"event"}}"#,
    "\n",
    r#"{"level":"warn"}"#,
    "\n",
);

const TYPED_BULK_REWRITTEN: &str = concat!(
    r#"{"index":{"_index":"twitter","_id":"1"}}"#,
    "\n",
    r#"{"user":"kimchy","_type":"not metadata","post_date":"2009-11-15T14:12:12","message":"trying out ES"}"#,
    "\n",
    r#"{"create":{"_index":"twitter","_id":"2","routing":"u1"}}"#,
    "\n",
    r#"{ "user" : "bob",   "nested": {"_index": "twitter"} }"#,
    "\n",
    r#"{"update":{"_id":"1","_index":"twitter","retry_on_conflict":3}}"#,
    "\n",
    r#"{"doc":{"message":"updated"}}"#,
    "\n",
    r#"{"delete":{"_index":"twitter","_id":"2"}}"#,
    "\n",
    r#"{"index":{"_index":"logs-2019"}}"#,
    "\n",
    r#"{"level":"warn"}"#,
    "\n",
);

const REMOVE_TYPES: &str = "[[transform]]\ntype = \"remove_types\"\n";

#[test]
fn typed_bulk_loses_every_type_and_keeps_sources_byte_identical() {
    let request = apply(&rules(REMOVE_TYPES), "POST", "/twitter/doc/_bulk?refresh=wait_for", TYPED_BULK.as_bytes());
    assert_eq!(target_of(&request), "/twitter/_bulk?refresh=wait_for");
    assert_eq!(std::str::from_utf8(request.body()).unwrap(), TYPED_BULK_REWRITTEN);
    assert_eq!(content_length(&request), TYPED_BULK_REWRITTEN.len());
}

#[test]
fn a_type_list_removes_only_the_listed_types() {
    let rules = rules("[[transform]]\ntype = \"remove_types\"\ntypes = [\"doc\"]\n");
    let request = apply(&rules, "POST", "/_bulk", TYPED_BULK.as_bytes());
    let body = std::str::from_utf8(request.body()).unwrap();
    assert!(body.starts_with(r#"{"index":{"_index":"twitter","_id":"1"}}"#), "{body}");
    assert!(body.contains(r#"{"index":{"_index":"logs-2019","_type":"event"}}"#), "{body}");
    assert_eq!(target_of(&apply(&rules, "GET", "/logs/event/7", b"")), "/logs/event/7");
    assert_eq!(target_of(&apply(&rules, "GET", "/twitter/doc/7", b"")), "/twitter/_doc/7");
}

#[test]
fn gzip_bulk_is_decoded_rewritten_and_gzipped_again() {
    let compressed = gzip(TYPED_BULK.as_bytes());
    let mut raw = format!(
        "POST /_bulk HTTP/1.1\r\nHost: es6\r\nContent-Type: application/x-ndjson\r\nContent-Encoding: gzip\r\n\
         Transfer-Encoding: chunked\r\n\r\n{:x}\r\n",
        compressed.len()
    )
    .into_bytes();
    raw.extend_from_slice(&compressed);
    raw.extend_from_slice(b"\r\n0\r\n\r\n");
    let request = rules(REMOVE_TYPES).apply(parse_request(&raw).unwrap()).unwrap();
    assert_eq!(request.headers()["content-encoding"], "gzip");
    assert!(request.headers().get("transfer-encoding").is_none());
    assert_eq!(content_length(&request), request.body().len());
    assert_eq!(std::str::from_utf8(&gunzip(request.body())).unwrap(), TYPED_BULK_REWRITTEN);
}

#[test]
fn typed_index_creation_with_settings_becomes_typeless() {
    let body = br#"{
        "settings": {"number_of_shards": 3, "analysis": {"analyzer": {"folding": {"tokenizer": "standard", "filter": ["lowercase", "asciifolding"]}}}},
        "mappings": {"doc": {
            "_all": {"enabled": false},
            "dynamic": "strict",
            "_source": {"excludes": ["secret"]},
            "properties": {"user": {"type": "keyword"}, "message": {"type": "text", "analyzer": "folding"}}
        }},
        "aliases": {"tweets": {}}
    }"#;
    let expected = serde_json::json!({
        "settings": {"number_of_shards": 3, "analysis": {"analyzer": {"folding": {"tokenizer": "standard", "filter": ["lowercase", "asciifolding"]}}}},
        "mappings": {
            "dynamic": "strict",
            "_source": {"excludes": ["secret"]},
            "properties": {"user": {"type": "keyword"}, "message": {"type": "text", "analyzer": "folding"}}
        },
        "aliases": {"tweets": {}}
    });
    for target in ["/twitter", "/twitter?include_type_name=true"] {
        let request = apply(&rules(REMOVE_TYPES), "PUT", target, body);
        assert_eq!(target_of(&request), "/twitter");
        assert_eq!(body_json(&request), expected);
        assert_eq!(content_length(&request), request.body().len());
        // Member order is kept: settings first, as sent.
        assert!(request.body().starts_with(br#"{"settings":{"number_of_shards":3,"#));
    }
}

#[test]
fn an_explicitly_typeless_creation_keeps_its_body_and_loses_the_parameter() {
    let body = br#"{"mappings":{"doc":{"type":"keyword"}}}"#;
    let request = apply(&rules(REMOVE_TYPES), "PUT", "/idx?include_type_name=false&wait_for_active_shards=1", body);
    assert_eq!(target_of(&request), "/idx?wait_for_active_shards=1");
    assert_eq!(request.body().as_ref(), body);
    let typeless = br#"{"mappings":{"properties":{"doc":{"type":"keyword"}}}}"#;
    assert_eq!(apply(&rules(REMOVE_TYPES), "PUT", "/idx", typeless).body().as_ref(), typeless);
}

#[test]
fn several_types_merge_when_their_fields_agree_and_fail_when_they_do_not() {
    let body = br#"{"mappings":{
        "user": {"properties": {"name": {"type": "text"}, "created": {"type": "date"}}},
        "tweet": {"_parent": {"type": "user"}, "properties": {"message": {"type": "text"}, "created": {"type": "date"}}}
    }}"#;
    let request = apply(&rules(REMOVE_TYPES), "PUT", "/es5-index", body);
    assert_eq!(
        body_json(&request),
        serde_json::json!({"mappings": {"properties": {
            "name": {"type": "text"}, "created": {"type": "date"}, "message": {"type": "text"}
        }}})
    );

    let conflicting =
        br#"{"mappings":{"a":{"properties":{"f":{"type":"text"}}},"b":{"properties":{"f":{"type":"long"}}}}}"#;
    let raw = captured("PUT", "/es5-index", conflicting);
    let error = rules(REMOVE_TYPES).apply(parse_request(&raw).unwrap()).unwrap_err();
    assert!(matches!(error, Error::Body { rule: 0, kind: "remove_types", .. }), "{error}");
    assert!(error.to_string().contains(r#"field "f""#), "{error}");
}

#[test]
fn typed_document_urls_take_their_typeless_forms() {
    let rules = rules(REMOVE_TYPES);
    let cases = [
        ("GET", "/twitter/doc/1?_source_includes=user", "/twitter/_doc/1?_source_includes=user"),
        ("PUT", "/twitter/doc/1?op_type=create", "/twitter/_doc/1?op_type=create"),
        ("POST", "/twitter/doc", "/twitter/_doc"),
        ("DELETE", "/twitter/doc/1", "/twitter/_doc/1"),
        ("HEAD", "/twitter/doc/1", "/twitter/_doc/1"),
        ("POST", "/twitter/doc/1/_update", "/twitter/_update/1"),
        ("PUT", "/twitter/doc/1/_create", "/twitter/_create/1"),
        ("GET", "/twitter/doc/1/_source", "/twitter/_source/1"),
        ("GET", "/twitter/doc/1/_explain", "/twitter/_explain/1"),
        ("GET", "/twitter/doc/1/_termvectors", "/twitter/_termvectors/1"),
        ("POST", "/twitter/doc/_update/1", "/twitter/_update/1"),
        ("POST", "/twitter/_doc/1/_update", "/twitter/_update/1"),
        ("GET", "/twitter/_doc/1", "/twitter/_doc/1"),
        ("GET", "/twitter,logs/doc,event/_search?q=user:kimchy", "/twitter,logs/_search?q=user:kimchy"),
        ("GET", "/twitter/doc/_count", "/twitter/_count"),
        ("POST", "/twitter/doc/_delete_by_query", "/twitter/_delete_by_query"),
        ("GET", "/twitter/doc/_validate/query", "/twitter/_validate/query"),
        ("GET", "/_all/doc/_search", "/_all/_search"),
        ("GET", "/twitter/_mapping/doc", "/twitter/_mapping"),
        ("GET", "/twitter/_mapping/doc/field/user", "/twitter/_mapping/field/user"),
        ("GET", "/twitter/_mapping/field/user", "/twitter/_mapping/field/user"),
        ("GET", "/_mapping/doc", "/_mapping"),
        ("GET", "/twitter/doc/_mapping?include_type_name=true", "/twitter/_mapping"),
        ("GET", "/twitter/_search", "/twitter/_search"),
        ("GET", "/_cluster/health/twitter", "/_cluster/health/twitter"),
        ("GET", "/twitter/doc/_odd_id", "/twitter/_doc/_odd_id"),
    ];
    for (method, from, to) in cases {
        assert_eq!(target_of(&apply(&rules, method, from, b"")), to, "{method} {from}");
    }
    // Documents are data: a field called `_type` inside one is not touched.
    let document = br#"{"user":"kimchy","_type":"doc","message":"trying out Elasticsearch"}"#;
    let request = apply(&rules, "PUT", "/twitter/doc/1?refresh=true", document);
    assert_eq!(target_of(&request), "/twitter/_doc/1?refresh=true");
    assert_eq!(request.body().as_ref(), document);
    assert_eq!(content_length(&request), document.len());
    let update = br#"{"doc":{"_type":"x"},"doc_as_upsert":true}"#;
    assert_eq!(apply(&rules, "POST", "/twitter/doc/1/_update", update).body().as_ref(), update);
}

#[test]
fn typed_put_mapping_bodies_are_unwrapped() {
    let body = br#"{"doc":{"properties":{"tag":{"type":"keyword"}}}}"#;
    for (from, to) in [
        ("/twitter/_mapping/doc", "/twitter/_mapping"),
        ("/twitter/doc/_mapping", "/twitter/_mapping"),
        ("/twitter/_mappings/doc?include_type_name=true", "/twitter/_mappings"),
    ] {
        let request = apply(&rules(REMOVE_TYPES), "PUT", from, body);
        assert_eq!(target_of(&request), to);
        assert_eq!(request.body().as_ref(), br#"{"properties":{"tag":{"type":"keyword"}}}"#);
    }
    let typeless = br#"{"properties":{"tag":{"type":"keyword"}}}"#;
    assert_eq!(apply(&rules(REMOVE_TYPES), "PUT", "/twitter/_mapping", typeless).body().as_ref(), typeless);
}

#[test]
fn typed_templates_mget_msearch_and_reindex_lose_their_types() {
    let rules = rules(REMOVE_TYPES);
    let template =
        br#"{"index_patterns":["logs-*"],"mappings":{"_doc":{"properties":{"@timestamp":{"type":"date"}}}}}"#;
    let request = apply(&rules, "PUT", "/_template/logs?include_type_name=true", template);
    assert_eq!(target_of(&request), "/_template/logs");
    assert_eq!(
        request.body().as_ref(),
        br#"{"index_patterns":["logs-*"],"mappings":{"properties":{"@timestamp":{"type":"date"}}}}"#
    );

    let mget =
        br#"{"docs":[{"_index":"twitter","_type":"doc","_id":"1"},{"_index":"logs","_type":["event"],"_id":"2"}]}"#;
    let request = apply(&rules, "GET", "/_mget", mget);
    assert_eq!(request.body().as_ref(), br#"{"docs":[{"_index":"twitter","_id":"1"},{"_index":"logs","_id":"2"}]}"#);

    let msearch = b"{\"index\":\"twitter\",\"type\":\"doc\"}\n{\"query\":{\"match_all\":{}}}\n{}\n{\"query\":{\"term\":{\"type\":\"doc\"}}}\n";
    let request = apply(&rules, "POST", "/_msearch", msearch);
    assert_eq!(
        request.body().as_ref(),
        b"{\"index\":\"twitter\"}\n{\"query\":{\"match_all\":{}}}\n{}\n{\"query\":{\"term\":{\"type\":\"doc\"}}}\n"
    );

    let reindex = br#"{"source":{"index":"twitter","type":"doc"},"dest":{"index":"new_twitter","type":"doc"}}"#;
    let request = apply(&rules, "POST", "/_reindex", reindex);
    assert_eq!(request.body().as_ref(), br#"{"source":{"index":"twitter"},"dest":{"index":"new_twitter"}}"#);
}

#[test]
fn a_body_a_rule_needs_that_is_not_json_is_an_error_naming_the_rule() {
    let rules =
        rules("[[transform]]\ntype = \"header\"\nremove = [\"x-a\"]\n\n[[transform]]\ntype = \"remove_types\"\n");
    let raw = captured("POST", "/_bulk", b"{\"index\":{\"_type\":\"doc\"}}\n{\"a\":1}\n\x00\x01 smile?\n{}\n");
    let error = rules.apply(parse_request(&raw).unwrap()).unwrap_err();
    assert!(
        matches!(&error, Error::Body { rule: 1, kind: "remove_types", reason } if reason.starts_with("_bulk line 3")),
        "{error}"
    );
    let raw = captured("PUT", "/idx", b"\xd7\x8b smile body");
    let error = rules.apply(parse_request(&raw).unwrap()).unwrap_err();
    assert!(error.to_string().contains("body is not JSON"), "{error}");
    // A body the rules do not need is never looked at.
    let raw = captured("POST", "/idx/_search", b"\xd7\x8b smile body");
    assert_eq!(rules.apply(parse_request(&raw).unwrap()).unwrap().body().as_ref(), b"\xd7\x8b smile body");
    // Nor decoded: a corrupt gzip body passes through untouched when no rule reads it.
    let raw = b"POST /idx/_search HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope";
    assert_eq!(rules.apply(parse_request(raw).unwrap()).unwrap().body().as_ref(), b"nope");
    let raw = b"POST /_bulk HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope";
    let error = rules.apply(parse_request(raw).unwrap()).unwrap_err();
    assert!(matches!(error, Error::Content { rule: 1, .. }), "{error}");
}

const RENAME: &str = r#"
[[transform]]
type = "rename_index"
names = { "twitter" = "twitter-v2" }
pattern = "logs-(\\d{4})"
replacement = "archive-logs-$1"
"#;

#[test]
fn renames_reach_every_index_position_in_paths() {
    let rules = rules(RENAME);
    let cases = [
        ("GET", "/twitter/_doc/1", "/twitter-v2/_doc/1"),
        (
            "GET",
            "/twitter,logs-2019,-logs-2020,other/_search",
            "/twitter-v2,archive-logs-2019,-archive-logs-2020,other/_search",
        ),
        ("PUT", "/twitter/_alias/twitter", "/twitter-v2/_alias/twitter"),
        ("POST", "/twitter/_rollover/logs-2021", "/twitter-v2/_rollover/archive-logs-2021"),
        ("GET", "/_cat/indices/twitter?v", "/_cat/indices/twitter-v2?v"),
        ("GET", "/_cluster/health/twitter", "/_cluster/health/twitter-v2"),
        ("GET", "/logs-2019x/_search", "/logs-2019x/_search"),
        ("GET", "/_alias/twitter", "/_alias/twitter"),
        ("GET", "/_search", "/_search"),
    ];
    for (method, from, to) in cases {
        assert_eq!(target_of(&apply(&rules, method, from, b"")), to, "{method} {from}");
    }
}

#[test]
fn renames_reach_index_names_in_bodies() {
    let rules = rules(RENAME);
    let request = apply(&rules, "POST", "/_bulk", TYPED_BULK.as_bytes());
    let body = std::str::from_utf8(request.body()).unwrap();
    assert!(body.starts_with(r#"{"index":{"_index":"twitter-v2","_type":"doc","_id":"1"}}"#), "{body}");
    assert!(body.contains(r#"{"index":{"_index":"archive-logs-2019","_type":"event"}}"#), "{body}");
    assert!(body.contains(r#"{ "user" : "bob",   "nested": {"_index": "twitter"} }"#), "{body}");

    let mget = br#"{"docs":[{"_index":"twitter","_id":"1"}]}"#;
    assert_eq!(
        apply(&rules, "GET", "/_mget", mget).body().as_ref(),
        br#"{"docs":[{"_index":"twitter-v2","_id":"1"}]}"#
    );

    let msearch = b"{\"index\":[\"twitter\",\"logs-2019\"]}\n{\"query\":{\"term\":{\"index\":\"twitter\"}}}\n";
    assert_eq!(
        apply(&rules, "GET", "/_msearch", msearch).body().as_ref(),
        b"{\"index\":[\"twitter-v2\",\"archive-logs-2019\"]}\n{\"query\":{\"term\":{\"index\":\"twitter\"}}}\n"
    );

    let reindex = br#"{"source":{"index":"twitter"},"dest":{"index":"logs-2019"}}"#;
    assert_eq!(
        apply(&rules, "POST", "/_reindex", reindex).body().as_ref(),
        br#"{"source":{"index":"twitter-v2"},"dest":{"index":"archive-logs-2019"}}"#
    );
    let remote = br#"{"source":{"remote":{"host":"http://old:9200"},"index":"twitter"},"dest":{"index":"twitter"}}"#;
    assert_eq!(
        apply(&rules, "POST", "/_reindex", remote).body().as_ref(),
        br#"{"source":{"remote":{"host":"http://old:9200"},"index":"twitter"},"dest":{"index":"twitter-v2"}}"#
    );

    let aliases = br#"{"actions":[{"add":{"index":"twitter","alias":"twitter"}},{"remove":{"indices":["logs-2019","x"],"alias":"logs"}},{"remove_index":{"index":"twitter"}}]}"#;
    assert_eq!(
        apply(&rules, "POST", "/_aliases", aliases).body().as_ref(),
        br#"{"actions":[{"add":{"index":"twitter-v2","alias":"twitter"}},{"remove":{"indices":["archive-logs-2019","x"],"alias":"logs"}},{"remove_index":{"index":"twitter-v2"}}]}"#
    );
}

#[test]
fn a_rename_to_an_impossible_name_is_refused() {
    let rules = rules("[[transform]]\ntype = \"rename_index\"\npattern = \"(.*)\"\nreplacement = \"$1 copy\"\n");
    let error = rules.apply(parse_request(&captured("GET", "/twitter/_search", b"")).unwrap()).unwrap_err();
    assert!(error.to_string().contains(r#"gives "twitter copy""#), "{error}");
}

#[test]
fn header_host_and_auth_rules_edit_headers_and_pin_what_the_sender_must_keep() {
    let mut raw = b"GET /twitter/_search HTTP/1.1\r\nHost: es6\r\nAuthorization: AWS4-HMAC-SHA256 Credential=x\r\n\
                    X-Amz-Date: 20201121T000000Z\r\nX-Amz-Security-Token: tok\r\nx-forwarded-for: 10.0.0.1\r\n\r\n"
        .to_vec();
    let strip = rules(
        "[[transform]]\ntype = \"auth\"\naction = \"strip\"\n\n\
         [[transform]]\ntype = \"header\"\nremove = [\"X-Forwarded-For\"]\nset = { \"X-OPAQUE-ID\" = \"replay\" }\n",
    );
    let request = strip.apply(parse_request(&raw).unwrap()).unwrap();
    let names: Vec<&str> = request.headers().keys().map(|k| k.as_str()).collect();
    assert_eq!(names, ["host", "x-opaque-id"]);
    assert_eq!(request.headers()["x-opaque-id"], "replay");
    assert_eq!(Pinned::of(&request), Pinned::default());

    let keep = rules("[[transform]]\ntype = \"auth\"\naction = \"keep\"\n\n[[transform]]\ntype = \"host\"\nvalue = \"search.internal:9200\"\n");
    raw.truncate(raw.len() - 2);
    raw.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    let request = keep.apply(parse_request(&raw).unwrap()).unwrap();
    assert_eq!(request.headers()["host"], "search.internal:9200");
    assert_eq!(request.headers()["authorization"], "AWS4-HMAC-SHA256 Credential=x");
    assert_eq!(Pinned::of(&request), Pinned { host: true, authorization: true });
    assert!(!format!("{request:?}").contains("Credential=x"));

    let set_auth_config = configs("[[transform]]\ntype = \"header\"\nset = { authorization = \"ApiKey abc\" }\n");
    assert!(!format!("{set_auth_config:?}").contains("abc"));
    let set_auth = Rules::new(set_auth_config).unwrap();
    assert!(!format!("{set_auth:?}").contains("abc"));
    let request = set_auth.apply(parse_request(&raw).unwrap()).unwrap();
    assert!(!format!("{request:?}").contains("abc"));
    assert_eq!(request.headers().get_all("authorization").iter().count(), 1);
    assert_eq!(Pinned::of(&request), Pinned { host: false, authorization: true });
}

#[test]
fn rules_that_change_nothing_leave_the_request_byte_identical() {
    let compressed = gzip(
        br#"{"index":{"_index":"a","_id":"1"}}
{"x":1.50,"_type":"t"}
"#,
    );
    let mut gz_raw = format!(
        "POST /a/_bulk?refresh HTTP/1.1\r\nHost: es\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        compressed.len()
    )
    .into_bytes();
    gz_raw.extend_from_slice(&compressed);
    let requests = [
        gz_raw,
        captured(
            "PUT",
            "/twitter",
            br#"{"settings":{"number_of_shards":1},"mappings":{"properties":{"a":{"type":"long"}}}}"#,
        ),
        captured("GET", "/twitter/_doc/1", b""),
        captured("POST", "/_msearch", b"{\"index\" : \"x\"}\n{}\n"),
    ];
    let noop = rules(
        "[[transform]]\ntype = \"remove_types\"\n\n\
         [[transform]]\ntype = \"rename_index\"\nnames = { \"absent\" = \"other\" }\n",
    );
    for raw in &requests {
        let parsed = parse_request(raw).unwrap();
        for rules in [&Rules::default(), &noop] {
            let out = rules.apply(parsed.clone()).unwrap();
            assert_eq!(out.method(), parsed.method());
            assert_eq!(out.uri(), parsed.uri());
            assert_eq!(out.headers(), parsed.headers());
            assert_eq!(out.body(), parsed.body());
        }
    }
    assert!(Rules::default().is_empty() && !noop.is_empty());
}

#[test]
fn rule_order_matters() {
    let rename_then_remove = rules(&format!("{RENAME}\n{REMOVE_TYPES}"));
    let twice = rules(
        "[[transform]]\ntype = \"rename_index\"\nnames = { \"a\" = \"b\" }\n\n\
         [[transform]]\ntype = \"rename_index\"\nnames = { \"b\" = \"c\" }\n",
    );
    let reversed = rules(
        "[[transform]]\ntype = \"rename_index\"\nnames = { \"b\" = \"c\" }\n\n\
         [[transform]]\ntype = \"rename_index\"\nnames = { \"a\" = \"b\" }\n",
    );
    assert_eq!(target_of(&apply(&twice, "GET", "/a/_search", b"")), "/c/_search");
    assert_eq!(target_of(&apply(&reversed, "GET", "/a/_search", b"")), "/b/_search");
    assert_eq!(target_of(&apply(&rename_then_remove, "GET", "/twitter/doc/1", b"")), "/twitter-v2/_doc/1");

    let set_then_remove = rules(
        "[[transform]]\ntype = \"header\"\nset = { x-a = \"1\" }\n\n[[transform]]\ntype = \"header\"\nremove = [\"X-A\"]\n",
    );
    let remove_then_set = rules(
        "[[transform]]\ntype = \"header\"\nremove = [\"X-A\"]\n\n[[transform]]\ntype = \"header\"\nset = { x-a = \"1\" }\n",
    );
    assert!(apply(&set_then_remove, "GET", "/", b"").headers().get("x-a").is_none());
    assert_eq!(apply(&remove_then_set, "GET", "/", b"").headers()["x-a"], "1");
}

#[test]
fn configuration_errors_name_the_rule_and_field() {
    let cases = [
        ("[[transform]]\ntype = \"host\"\nvalue = \"http://x/\"\n", "transform[0] (host): field `value`"),
        ("[[transform]]\ntype = \"auth\"\naction = \"keep\"\n[[transform]]\ntype = \"rename_index\"\npattern = \"(\"\nreplacement = \"x\"\n", "transform[1] (rename_index): field `pattern`"),
        ("[[transform]]\ntype = \"rename_index\"\npattern = \"a\"\n", "transform[0] (rename_index): field `replacement`"),
        ("[[transform]]\ntype = \"rename_index\"\n", "transform[0] (rename_index): field `names`"),
        ("[[transform]]\ntype = \"rename_index\"\nnames = { a = \"b/c\" }\n", "transform[0] (rename_index): field `names`"),
        ("[[transform]]\ntype = \"header\"\nset = { Content-Length = \"1\" }\n", "transform[0] (header): field `set`"),
        ("[[transform]]\ntype = \"header\"\nremove = [\"Host\"]\n", "use a `host` rule"),
        ("[[transform]]\ntype = \"header\"\nset = { \"bad name\" = \"1\" }\n", "transform[0] (header): field `set`"),
        ("[[transform]]\ntype = \"header\"\n", "give `set` or `remove`"),
        ("[[transform]]\ntype = \"remove_types\"\ntypes = []\n", "transform[0] (remove_types): field `types`"),
        ("[[transform]]\ntype = \"remove_types\"\ntypes = [\"doc\", \"_search\"]\n", r#""_search" cannot be"#),
    ];
    for (text, expected) in cases {
        let error = Rules::new(configs(text)).unwrap_err().to_string();
        assert!(error.contains(expected), "{text}: {error}");
    }
    for (text, expected) in [
        ("[[transform]]\ntype = \"remove_types\"\ntype_names = \"any\"\n", "unknown field `type_names`"),
        ("[[transform]]\ntype = \"rewrite\"\n", "unknown variant `rewrite`"),
        ("[[transform]]\ntype = \"auth\"\naction = \"replace\"\n", "unknown variant `replace`"),
        ("[[transform]]\ntype = \"remove_types\"\ntypes = \"all\"\n", r#""any" or a list of type names"#),
    ] {
        let error = toml::from_str::<File>(text).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains(expected), "{text}: {error}");
    }
}

#[test]
fn parsing_removes_framing_and_hop_by_hop_headers_but_not_content_coding() {
    let raw = b"PUT http://es6:9200/twitter/doc/1 HTTP/1.1\r\nHost: es6:9200\r\nConnection: keep-alive, X-Hop\r\n\
                X-Hop: 1\r\nKeep-Alive: timeout=5\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\
                Content-Encoding: gzip\r\nX-End: 2\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: t\r\n\r\nGET / HTTP/1.1\r\n";
    let request = parse_request(raw).unwrap();
    assert_eq!(request.method(), "PUT");
    assert_eq!(request.uri(), "/twitter/doc/1");
    let headers: Vec<(&str, &str)> = request.headers().iter().map(|(k, v)| (k.as_str(), v.to_str().unwrap())).collect();
    assert_eq!(headers, [("host", "es6:9200"), ("content-encoding", "gzip"), ("x-end", "2"), ("content-length", "5")]);
    assert_eq!(request.body().as_ref(), b"abcde");

    let http10 = parse_request(b"GET /_cat/health HTTP/1.0\r\n\r\n").unwrap();
    assert_eq!(http10.version(), http::Version::HTTP_10);
    assert!(http10.headers().is_empty());

    let gzip_transfer = b"POST /_bulk HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n";
    let error = parse_request(gzip_transfer).unwrap_err();
    assert!(error.to_string().contains(r#"transfer coding "gzip""#), "{error}");

    let error = parse_request(b"POST /_bulk HTTP/1.1\r\nContent-Length: 10\r\n\r\n{\"in").unwrap_err();
    assert!(matches!(error, Error::Incomplete { have: 4 }), "{error}");
    assert!(matches!(parse_request(b"GET /\r\n\r\n"), Err(Error::Parse(_))));
}

/// xorshift64*: deterministic noise without a dependency.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn rules_can_be_shared_across_sender_tasks() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<Rules>();
    assert_send_sync::<Pinned>();
}

#[test]
fn garbage_and_mutated_requests_never_panic() {
    let all = rules(&format!(
        "{REMOVE_TYPES}\n{RENAME}\n[[transform]]\ntype = \"auth\"\naction = \"strip\"\n\n\
         [[transform]]\ntype = \"header\"\nset = {{ x-a = \"1\" }}\n"
    ));
    let mut seeds = vec![
        captured("POST", "/twitter/doc/_bulk", TYPED_BULK.as_bytes()),
        captured("PUT", "/twitter", br#"{"mappings":{"a":{"properties":{"f":{"type":"text"}}},"b":{"_all":{}}}}"#),
        captured("PUT", "/twitter/_mapping/doc", br#"{"doc":{"properties":{}}}"#),
        captured("POST", "/_msearch", b"{\"index\":\"twitter\",\"type\":\"doc\"}\n{}\n"),
        captured("POST", "/_aliases", br#"{"actions":[{"add":{"index":"twitter","alias":"t"}}]}"#),
        captured("POST", "/_reindex", br#"{"source":{"index":["twitter"],"type":["doc"]},"dest":{"index":"x"}}"#),
        captured("GET", "/_mget", br#"{"docs":[{"_index":"twitter","_type":"doc","_id":"1"}]}"#),
    ];
    let compressed = gzip(TYPED_BULK.as_bytes());
    let mut gz =
        format!("POST /_bulk HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n", compressed.len())
            .into_bytes();
    gz.extend_from_slice(&compressed);
    seeds.push(gz);

    let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
    let (mut parsed, mut applied) = (0, 0);
    for round in 0..6000 {
        let input: Vec<u8> = if round % 5 == 0 {
            (0..noise.below(300)).map(|_| noise.next() as u8).collect()
        } else {
            let mut bytes = seeds[noise.below(seeds.len())].clone();
            for _ in 0..=noise.below(4) {
                match noise.below(4) {
                    0 if !bytes.is_empty() => {
                        let at = noise.below(bytes.len());
                        bytes[at] = noise.next() as u8;
                    }
                    1 if !bytes.is_empty() => {
                        let at = noise.below(bytes.len());
                        bytes[at] ^= 1 << noise.below(8);
                    }
                    2 => {
                        let at = noise.below(bytes.len() + 1);
                        bytes.truncate(at);
                    }
                    _ => {
                        let at = noise.below(bytes.len() + 1);
                        const INTERESTING: &[u8] = b"{}[]\",:\n_/ \r";
                        let byte = INTERESTING[noise.below(INTERESTING.len())];
                        bytes.insert(at, byte);
                    }
                }
            }
            bytes
        };
        if let Ok(request) = parse_request(&input) {
            parsed += 1;
            if all.apply(request).is_ok() {
                applied += 1;
            }
        }
    }
    // The mutations must exercise the rules, not just the parser's rejections.
    assert!(parsed > 1000 && applied > 500, "parsed {parsed}, applied {applied}");
}
