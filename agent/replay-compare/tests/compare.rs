//! The comparer on realistic Elasticsearch 6/7 and OpenSearch 2 response pairs.

use bytes::Bytes;
use ferry_replay_compare::{parse_response, CompareConfig, Comparer, Difference, DifferenceKind, Verdict};
use serde_json::{json, Value};

fn request(method: &str, path: &str, body: &str) -> http::Request<Bytes> {
    http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(Bytes::from(body.to_string()))
        .unwrap()
}

fn response(status: u16, body: &str) -> http::Response<Bytes> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=UTF-8")
        .body(Bytes::from(body.to_string()))
        .unwrap()
}

fn compare_with(
    config: CompareConfig,
    req: &http::Request<Bytes>,
    source: (u16, &str),
    target: (u16, &str),
) -> Verdict {
    let comparer = Comparer::new(config).unwrap();
    comparer.compare(req, &response(source.0, source.1), &response(target.0, target.1))
}

fn compare(req: &http::Request<Bytes>, source: (u16, &str), target: (u16, &str)) -> Verdict {
    compare_with(CompareConfig::default(), req, source, target)
}

/// The differences as (path, kind) pairs, for compact assertions.
fn shape(verdict: &Verdict) -> Vec<(&str, DifferenceKind)> {
    verdict.differences.iter().map(|d| (d.path.as_str(), d.kind)).collect()
}

fn find<'a>(verdict: &'a Verdict, path: &str) -> &'a Difference {
    verdict
        .differences
        .iter()
        .find(|d| d.path == path)
        .unwrap_or_else(|| panic!("no difference at {path}: {verdict:?}"))
}

const ES6_INDEX_AUTO_ID: &str = r#"{"_index":"logs","_type":"doc","_id":"8tq0Q4wBf4jK1bJ1xYzA","_version":1,"result":"created","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1}"#;
const OS2_INDEX_AUTO_ID: &str = r#"{"_index":"logs","_id":"Zl3kQ4wB2c9s0Qp7mNoP","_version":1,"result":"created","_shards":{"total":2,"successful":2,"failed":0},"_seq_no":17,"_primary_term":3}"#;

#[test]
fn auto_id_index_matches_although_ids_types_shards_and_seq_nos_differ() {
    let verdict =
        compare(&request("POST", "/logs/_doc", r#"{"msg":"hi"}"#), (201, ES6_INDEX_AUTO_ID), (201, OS2_INDEX_AUTO_ID));
    assert!(verdict.matched, "{verdict:?}");
    assert!(verdict.differences.is_empty());
}

#[test]
fn explicit_ids_are_compared() {
    let source = r#"{"_index":"logs","_id":"1","_version":3,"result":"updated","_seq_no":4,"_primary_term":1}"#;
    let target = r#"{"_index":"logs","_id":"2","_version":1,"result":"created","_seq_no":0,"_primary_term":1}"#;
    let verdict = compare(&request("PUT", "/logs/_doc/1", "{}"), (200, source), (200, target));
    assert!(!verdict.matched);
    assert_eq!(shape(&verdict), [("/_id", DifferenceKind::Value), ("/result", DifferenceKind::Value)]);
    assert_eq!(find(&verdict, "/result").source, Some(json!("updated")));
    let versions = CompareConfig { versions: true, ..CompareConfig::default() };
    let verdict = compare_with(versions, &request("PUT", "/logs/_doc/1", "{}"), (200, source), (200, target));
    assert!(shape(&verdict).contains(&("/_version", DifferenceKind::Value)), "{verdict:?}");
}

#[test]
fn created_and_updated_writes_match_only_when_configured() {
    let source = r#"{"_index":"logs","_id":"1","_version":1,"result":"created","_seq_no":0,"_primary_term":1}"#;
    let target = r#"{"_index":"logs","_id":"1","_version":2,"result":"updated","_seq_no":7,"_primary_term":1}"#;
    let put = request("PUT", "/logs/_doc/1", "{}");
    let strict = compare(&put, (201, source), (200, target));
    assert_eq!(shape(&strict), [("", DifferenceKind::Status)]);
    let lenient = CompareConfig { created_as_updated: true, ..CompareConfig::default() };
    assert!(compare_with(lenient.clone(), &put, (201, source), (200, target)).matched);
    let bulk_source = r#"{"took":3,"errors":false,"items":[{"index":{"_index":"logs","_id":"1","result":"created","status":201}},{"delete":{"_index":"logs","_id":"2","result":"not_found","status":404}}]}"#;
    let bulk_target = r#"{"took":5,"errors":false,"items":[{"index":{"_index":"logs","_id":"1","result":"updated","status":200}},{"delete":{"_index":"logs","_id":"2","result":"deleted","status":200}}]}"#;
    let bulk = request("POST", "/_bulk", "");
    let verdict = compare_with(lenient, &bulk, (200, bulk_source), (200, bulk_target));
    assert_eq!(
        shape(&verdict),
        [("/items/1/delete/result", DifferenceKind::Value), ("/items/1/delete/status", DifferenceKind::Value)],
        "only the write folds; a delete that found nothing still differs"
    );
}

fn search_body(total: &str, hits: &[(&str, f64)], extra: &str) -> String {
    let hits: Vec<Value> = hits
        .iter()
        .map(|(id, score)| {
            json!({"_index": "logs", "_type": "_doc", "_id": id, "_score": score, "_source": {"msg": format!("m{id}")}})
        })
        .collect();
    format!(
        r#"{{"took":{},"timed_out":false,"_shards":{{"total":5,"successful":5,"skipped":0,"failed":0}},"hits":{{"total":{total},"max_score":1.2,"hits":{}}}{extra}}}"#,
        hits.len() * 3,
        Value::Array(hits)
    )
}

#[test]
fn search_hits_match_by_id_across_tie_reorders_and_es6_totals() {
    let req = request("GET", "/logs/_search", r#"{"query":{"match":{"msg":"x"}}}"#);
    let source = search_body("3", &[("a", 1.2), ("b", 1.2), ("c", 0.5)], "");
    let target = search_body(r#"{"value":3,"relation":"eq"}"#, &[("b", 1.31), ("a", 1.31), ("c", 0.47)], "");
    let verdict = compare(&req, (200, &source), (200, &target));
    assert!(verdict.matched, "ties reordered, scores and ES 6/7 totals differ only: {verdict:?}");
}

#[test]
fn search_hits_out_of_order_are_one_order_difference() {
    let req = request("GET", "/logs/_search", "{}");
    let source = search_body("3", &[("a", 2.0), ("b", 1.0), ("c", 0.5)], "");
    let target = search_body("3", &[("c", 2.0), ("a", 1.0), ("b", 0.5)], "");
    let verdict = compare(&req, (200, &source), (200, &target));
    assert_eq!(shape(&verdict), [("/hits/hits", DifferenceKind::Order)]);
    let order = find(&verdict, "/hits/hits");
    assert_eq!(order.source, Some(json!(["logs/a", "logs/b", "logs/c"])));
    assert_eq!(order.target, Some(json!(["logs/c", "logs/a", "logs/b"])));
    let unordered = CompareConfig { hit_order: false, ..CompareConfig::default() };
    assert!(compare_with(unordered, &req, (200, &source), (200, &target)).matched);
    let scores = CompareConfig { scores: true, ..CompareConfig::default() };
    let verdict = compare_with(scores, &req, (200, &source), (200, &target));
    assert!(shape(&verdict).contains(&("/hits/hits/0/_score", DifferenceKind::Value)), "{verdict:?}");
}

#[test]
fn missing_hits_totals_and_document_fields_are_reported() {
    let req = request("GET", "/logs/_search", "{}");
    let source = search_body("3", &[("a", 1.0), ("b", 1.0), ("c", 1.0)], "");
    let target = search_body(r#"{"value":2,"relation":"eq"}"#, &[("a", 1.0), ("c", 1.0), ("d", 1.0)], "")
        .replace(r#""msg":"ma""#, r#""msg":"changed""#);
    let verdict = compare(&req, (200, &source), (200, &target));
    assert_eq!(
        shape(&verdict),
        [
            ("/hits/hits/0/_source/msg", DifferenceKind::Value),
            ("/hits/hits/1", DifferenceKind::MissingInTarget),
            ("/hits/hits/2", DifferenceKind::MissingInSource),
            ("/hits/total", DifferenceKind::Value),
        ]
    );
    assert_eq!(find(&verdict, "/hits/total").target, Some(json!({"value": 2, "relation": "eq"})));
    assert_eq!(find(&verdict, "/hits/hits/2").target.as_ref().and_then(|h| h.get("_id")), Some(&json!("d")));
}

#[test]
fn lower_bound_totals_match_exact_counts_above_them() {
    let req = request("GET", "/logs/_search", "{}");
    let source = search_body("12000", &[], "");
    let gte = search_body(r#"{"value":10000,"relation":"gte"}"#, &[], "");
    assert!(compare(&req, (200, &source), (200, &gte)).matched);
    let low = search_body("9000", &[], "");
    assert!(!compare(&req, (200, &low), (200, &gte)).matched);
}

#[test]
fn document_fields_named_like_metadata_are_still_compared() {
    let req = request("GET", "/logs/_doc/1", "");
    let source = r#"{"_index":"logs","_id":"1","found":true,"_source":{"took":5,"@timestamp":"2024-01-01T00:00:00Z","_version":"v1"}}"#;
    let target = r#"{"_index":"logs","_id":"1","found":true,"_source":{"took":6,"@timestamp":"2024-01-02T00:00:00Z","_version":"v1"}}"#;
    let verdict = compare(&req, (200, source), (200, target));
    assert_eq!(
        shape(&verdict),
        [("/_source/@timestamp", DifferenceKind::Value), ("/_source/took", DifferenceKind::Value)]
    );
}

const AGG_SOURCE: &str = r#"{"took":3,"timed_out":false,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0},
 "hits":{"total":{"value":7,"relation":"eq"},"max_score":null,"hits":[]},
 "aggregations":{
   "by_status":{"doc_count_error_upper_bound":0,"sum_other_doc_count":0,"buckets":[{"key":200,"doc_count":5},{"key":404,"doc_count":2}]},
   "avg_bytes":{"value":3.3333333333333335},
   "timestamp":{"value":1700000000000.0,"value_as_string":"2023-11-14T22:13:20.000Z"},
   "per_day":{"buckets":[{"key_as_string":"2024-01-01","key":1704067200000,"doc_count":4},{"key_as_string":"2024-01-02","key":1704153600000,"doc_count":3}]}}}"#;

#[test]
fn aggregations_compare_by_value_with_float_tolerance() {
    let req = request("POST", "/logs/_search", r#"{"size":0,"aggs":{}}"#);
    let target = AGG_SOURCE
        .replace("3.3333333333333335", "3.333333333333333")
        .replace(r#""doc_count_error_upper_bound":0"#, r#""doc_count_error_upper_bound":3"#)
        .replace(r#""took":3"#, r#""took":9"#);
    let verdict = compare(&req, (200, AGG_SOURCE), (200, &target));
    assert!(verdict.matched, "{verdict:?}");
    let target = AGG_SOURCE.replace("3.3333333333333335", "3.5").replace("1700000000000.0", "1700000500000.0");
    let verdict = compare(&req, (200, AGG_SOURCE), (200, &target));
    assert_eq!(
        shape(&verdict),
        [
            ("/aggregations/avg_bytes/value", DifferenceKind::Value),
            ("/aggregations/timestamp/value", DifferenceKind::Value)
        ],
        "an aggregation named `timestamp` is user data"
    );
    let loose = CompareConfig { float_tolerance: 0.1, ..CompareConfig::default() };
    let target = AGG_SOURCE.replace("3.3333333333333335", "3.5");
    assert!(compare_with(loose, &req, (200, AGG_SOURCE), (200, &target)).matched);
}

#[test]
fn an_aggregation_over_a_differently_mapped_field_shows_the_type_change() {
    let req = request("POST", "/logs/_search", r#"{"size":0,"aggs":{"by_status":{"terms":{"field":"status"}}}}"#);
    // The target mapped `status` as keyword instead of long: the buckets' keys are strings.
    let target = AGG_SOURCE
        .replace(r#""key":200"#, r#""key":"200""#)
        .replace(r#""key":404,"doc_count":2"#, r#""key":"404","doc_count":1"#);
    let verdict = compare(&req, (200, AGG_SOURCE), (200, &target));
    assert_eq!(
        shape(&verdict),
        [
            ("/aggregations/by_status/buckets/0/key", DifferenceKind::Type),
            ("/aggregations/by_status/buckets/1/doc_count", DifferenceKind::Value),
            ("/aggregations/by_status/buckets/1/key", DifferenceKind::Type),
        ]
    );
    assert_eq!(find(&verdict, "/aggregations/by_status/buckets/0/key").target, Some(json!("200")));
}

#[test]
fn bucket_order_and_missing_buckets_are_reported() {
    let req = request("POST", "/logs/_search", "{}");
    let swapped = AGG_SOURCE.replace(
        r#"[{"key":200,"doc_count":5},{"key":404,"doc_count":2}]"#,
        r#"[{"key":404,"doc_count":2},{"key":200,"doc_count":5},{"key":500,"doc_count":1}]"#,
    );
    let verdict = compare(&req, (200, AGG_SOURCE), (200, &swapped));
    assert_eq!(
        shape(&verdict),
        [
            ("/aggregations/by_status/buckets/2", DifferenceKind::MissingInSource),
            ("/aggregations/by_status/buckets", DifferenceKind::Order)
        ]
    );
}

const BULK_REQUEST: &str = concat!(
    "{\"index\":{\"_index\":\"logs\"}}\n{\"status\":200}\n",
    "{\"index\":{\"_index\":\"logs\",\"_id\":\"2\"}}\n{\"status\":404}\n",
    "{\"create\":{\"_index\":\"logs\",\"_id\":\"3\"}}\n{\"status\":\"oops\"}\n",
);

fn bulk_item(action: &str, id: &str, seq: u32) -> String {
    format!(
        r#"{{"{action}":{{"_index":"logs","_type":"_doc","_id":"{id}","_version":1,"result":"created","_shards":{{"total":2,"successful":1,"failed":0}},"_seq_no":{seq},"_primary_term":1,"status":201}}}}"#
    )
}

#[test]
fn bulk_items_are_compared_one_by_one_with_auto_ids_ignored() {
    let req = request("POST", "/_bulk", BULK_REQUEST);
    let source = format!(
        r#"{{"took":30,"errors":false,"items":[{},{},{}]}}"#,
        bulk_item("index", "AAAA", 0),
        bulk_item("index", "2", 1),
        bulk_item("create", "3", 2)
    );
    let failed = r#"{"create":{"_index":"logs","_id":"3","status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [status] of type [long] in document with id '3'. Preview of field's value: 'oops'","caused_by":{"type":"illegal_argument_exception","reason":"For input string: \"oops\""}}}}"#;
    let target = format!(
        r#"{{"took":12,"ingest_took":0,"errors":true,"items":[{},{},{failed}]}}"#,
        bulk_item("index", "BBBB", 7),
        bulk_item("index", "2", 8)
    );
    let verdict = compare(&req, (200, &source), (200, &target));
    assert_eq!(
        shape(&verdict),
        [
            ("/errors", DifferenceKind::Value),
            ("/items/2/create/result", DifferenceKind::MissingInTarget),
            ("/items/2/create/status", DifferenceKind::Value),
            ("/items/2/create/error", DifferenceKind::MissingInSource),
        ]
    );
    let error = find(&verdict, "/items/2/create/error").target.clone().unwrap();
    assert_eq!(error["type"], "mapper_parsing_exception");
    assert_eq!(find(&verdict, "/items/2/create/status").target, Some(json!(400)));

    let same_target = source.replace("AAAA", "BBBB").replace(r#""took":30"#, r#""took":1"#);
    assert!(compare(&req, (200, &source), (200, &same_target)).matched, "auto id of item 0 ignored");
    let explicit = same_target.replace(r#""_id":"2""#, r#""_id":"two""#);
    assert_eq!(
        shape(&compare(&req, (200, &source), (200, &explicit))),
        [("/items/1/index/_id", DifferenceKind::Value)]
    );
}

#[test]
fn gzip_bulk_requests_and_responses_are_decoded() {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(b"{\"index\":{\"_index\":\"logs\"}}\n{\"a\":1}\n").unwrap();
    let mut req = request("POST", "/_bulk", "");
    *req.body_mut() = Bytes::from(encoder.finish().unwrap());
    req.headers_mut().insert("content-encoding", "gzip".parse().unwrap());
    let source = format!(r#"{{"errors":false,"items":[{}]}}"#, bulk_item("index", "A", 0));
    let target = format!(r#"{{"errors":false,"items":[{}]}}"#, bulk_item("index", "B", 0));
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(target.as_bytes()).unwrap();
    let mut gzipped = response(200, "");
    *gzipped.body_mut() = Bytes::from(encoder.finish().unwrap());
    gzipped.headers_mut().insert("content-encoding", "gzip".parse().unwrap());
    let comparer = Comparer::new(CompareConfig::default()).unwrap();
    assert!(comparer.compare(&req, &response(200, &source), &gzipped).matched);

    // A request body that does not decode gives no auto-id knowledge: item 0's ids are then compared.
    *req.body_mut() = Bytes::from_static(b"not gzip");
    assert_eq!(shape(&compare(&req, (200, &source), (200, &target))), [("/items/0/index/_id", DifferenceKind::Value)]);
}

const NOT_FOUND_ES6: &str = r#"{"error":{"root_cause":[{"type":"index_not_found_exception","reason":"no such index","resource.type":"index_or_alias","resource.id":"nope","index_uuid":"_na_","index":"nope"}],"type":"index_not_found_exception","reason":"no such index","resource.type":"index_or_alias","resource.id":"nope","index_uuid":"_na_","index":"nope"},"status":404}"#;
const NOT_FOUND_OS2: &str = r#"{"error":{"root_cause":[{"type":"index_not_found_exception","reason":"no such index [nope]","index":"nope","resource.id":"nope","resource.type":"index_or_alias","index_uuid":"_na_"}],"type":"index_not_found_exception","reason":"no such index [nope]","index":"nope","resource.id":"nope","resource.type":"index_or_alias","index_uuid":"_na_"},"status":404}"#;

#[test]
fn error_bodies_compare_by_error_type() {
    let req = request("GET", "/nope/_search", "{}");
    assert!(compare(&req, (404, NOT_FOUND_ES6), (404, NOT_FOUND_OS2)).matched);

    let security = r#"{"error":{"root_cause":[{"type":"security_exception","reason":"no permissions"}],"type":"security_exception","reason":"no permissions for [indices:data/read/search]"},"status":403}"#;
    let verdict = compare(&req, (404, NOT_FOUND_ES6), (403, security));
    assert_eq!(shape(&verdict), [("", DifferenceKind::Status), ("/error", DifferenceKind::Value)]);
    assert_eq!(
        (find(&verdict, "").source.clone(), find(&verdict, "").target.clone()),
        (Some(json!(404)), Some(json!(403)))
    );
    assert_eq!(find(&verdict, "/error").target.as_ref().unwrap()["type"], "security_exception");

    let put = request("PUT", "/logs/_doc/1", r#"{"status":"oops"}"#);
    let created = r#"{"_index":"logs","_id":"1","_version":1,"result":"created","_seq_no":0,"_primary_term":1}"#;
    let rejected = r#"{"error":{"root_cause":[{"type":"mapper_parsing_exception","reason":"failed to parse field [status] of type [long]"}],"type":"mapper_parsing_exception","reason":"failed to parse field [status] of type [long]"},"status":400}"#;
    let verdict = compare(&put, (201, created), (400, rejected));
    assert_eq!(shape(&verdict), [("", DifferenceKind::Status), ("/error", DifferenceKind::MissingInSource)]);
}

#[test]
fn cat_text_compares_as_rows_without_per_cluster_columns() {
    let req = request("GET", "/_cat/indices?v", "");
    let source = "health status index    uuid                   pri rep docs.count docs.deleted store.size pri.store.size\n\
                  yellow open   logs     Xk2Qd8lVQyO0c7bG5pU3hA   1   1          7            2     12.1kb         12.1kb\n\
                  green  open   metrics  aB3Qd8lVQyO0c7bG5pU3hA   1   0          3            0      5.2kb          5.2kb\n";
    let target = "health status index    uuid                   pri rep docs.count docs.deleted store.size pri.store.size\n\
                  green  open   metrics  zz3Qd8lVQyO0c7bG5pU3hA   1   0          3            0      6.0kb          6.0kb\n\
                  yellow open   logs     Qq2Qd8lVQyO0c7bG5pU3hA   1   1          7            0      9.9kb          9.9kb\n";
    let text = |status, body: &str| {
        http::Response::builder()
            .status(status)
            .header("content-type", "text/plain; charset=UTF-8")
            .body(Bytes::from(body.to_string()))
            .unwrap()
    };
    let comparer = Comparer::new(CompareConfig::default()).unwrap();
    assert!(comparer.compare(&req, &text(200, source), &text(200, target)).matched);
    let fewer = target.replace("          7            0", "          6            0");
    let verdict = comparer.compare(&req, &text(200, source), &text(200, &fewer));
    // Rows are sorted (green before yellow), so `logs` is row 1 on both sides.
    assert_eq!(shape(&verdict), [("/1/docs.count", DifferenceKind::Value)]);
    assert_eq!(find(&verdict, "/1/docs.count").source, Some(json!("7")));
}

#[test]
fn non_json_bodies_are_byte_compared_and_json_versus_html_is_a_type_difference() {
    let req = request("GET", "/_plugin/x", "");
    let plain = |body: &str| {
        http::Response::builder()
            .status(200)
            .header("content-type", "text/plain")
            .body(Bytes::from(body.to_string()))
            .unwrap()
    };
    let comparer = Comparer::new(CompareConfig::default()).unwrap();
    assert!(comparer.compare(&req, &plain("same bytes"), &plain("same bytes")).matched);
    let verdict = comparer.compare(&req, &plain("hello world"), &plain("hello there"));
    assert_eq!(shape(&verdict), [("", DifferenceKind::Value)]);
    assert_eq!(find(&verdict, "").target, Some(json!({"offset": 6, "text": "hello there"})));

    let req = request("GET", "/logs/_search", "{}");
    let html = "<html><body><h1>502 Bad Gateway</h1></body></html>";
    let verdict = compare(&req, (200, &search_body("0", &[], "")), (200, html));
    assert_eq!(shape(&verdict), [("", DifferenceKind::Type)]);
    let verdict = compare(&req, (200, "{}"), (200, ""));
    assert_eq!(shape(&verdict), [("", DifferenceKind::MissingInTarget)]);
}

#[test]
fn renamed_indices_match_through_index_renames() {
    let mut config = CompareConfig::default();
    config.index_renames.insert("logs".to_string(), "logs-v2".to_string());
    let req = request("GET", "/logs-v2/_search", "{}");
    let source = search_body("2", &[("a", 1.0), ("b", 0.5)], "");
    let target = source.replace(r#""_index":"logs""#, r#""_index":"logs-v2""#);
    assert!(!compare(&req, (200, &source), (200, &target)).matched, "without the rename the hits differ");
    assert!(compare_with(config.clone(), &req, (200, &source), (200, &target)).matched);

    let req = request("GET", "/logs-v2/_mapping", "");
    let mapping = |index: &str, ts: &str| {
        format!(r#"{{"{index}":{{"mappings":{{"properties":{{"@timestamp":{{"type":"{ts}"}}}}}}}}}}"#)
    };
    assert!(
        compare_with(config.clone(), &req, (200, &mapping("logs", "date")), (200, &mapping("logs-v2", "date"))).matched
    );
    let verdict = compare_with(config, &req, (200, &mapping("logs", "date")), (200, &mapping("logs-v2", "date_nanos")));
    assert_eq!(shape(&verdict), [("/logs-v2/mappings/properties/@timestamp/type", DifferenceKind::Value)]);
}

#[test]
fn renamed_index_creation_matches() {
    let mut config = CompareConfig::default();
    config.index_renames.insert("logs".to_string(), "logs-v2".to_string());
    let req = request("PUT", "/logs-v2", r#"{"settings":{"number_of_shards":1}}"#);
    let created = |index: &str| format!(r#"{{"acknowledged":true,"shards_acknowledged":true,"index":"{index}"}}"#);
    assert!(compare_with(config, &req, (200, &created("logs")), (200, &created("logs-v2"))).matched);
}

#[test]
fn scroll_ids_msearch_and_delete_by_query_timings_are_ignored() {
    let scroll = |id: &str| search_body("2", &[("a", 1.0)], "").replacen('{', &format!(r#"{{"_scroll_id":"{id}","#), 1);
    let req = request(
        "POST",
        "/_search/scroll",
        r#"{"scroll":"1m","scroll_id":"DXF1ZXJ5QW5kRmV0Y2gBAAAAAAAAAD4WYm9laVYtZndUQlNsdDcwakFMNjU1QQ=="}"#,
    );
    let (source, target) = (scroll("DXF1ZXJ5QW5kRmV0Y2gBAAAAAAAAAD4W"), scroll("FGluY2x1ZGVfY29udGV4dF91dWlkDXF1"));
    assert!(compare(&req, (200, &source), (200, &target)).matched, "{source}");

    let req = request("POST", "/_msearch", "{}\n{\"query\":{\"match_all\":{}}}\n");
    let msearch = |total: &str, took: u32| {
        format!(
            r#"{{"took":{took},"responses":[{},{}]}}"#,
            search_body("1", &[("a", 1.0)], r#","status":200"#),
            search_body(total, &[], r#","status":200"#)
        )
    };
    assert!(compare(&req, (200, &msearch("0", 5)), (200, &msearch(r#"{"value":0,"relation":"eq"}"#, 9))).matched);
    let verdict = compare(&req, (200, &msearch("0", 5)), (200, &msearch("4", 9)));
    assert_eq!(shape(&verdict), [("/responses/1/hits/total", DifferenceKind::Value)]);

    let req = request("POST", "/logs/_delete_by_query", r#"{"query":{"match_all":{}}}"#);
    let dbq = |took: u32, throttled: u32, deleted: u32| {
        format!(
            r#"{{"took":{took},"timed_out":false,"total":{deleted},"deleted":{deleted},"batches":1,"version_conflicts":0,"noops":0,"retries":{{"bulk":0,"search":0}},"throttled_millis":{throttled},"requests_per_second":-1.0,"throttled_until_millis":0,"failures":[]}}"#
        )
    };
    assert!(compare(&req, (200, &dbq(40, 0, 3)), (200, &dbq(12, 5, 3))).matched);
    assert_eq!(
        shape(&compare(&req, (200, &dbq(40, 0, 3)), (200, &dbq(12, 5, 2)))),
        [("/deleted", DifferenceKind::Value), ("/total", DifferenceKind::Value)]
    );
}

#[test]
fn settings_generated_per_cluster_are_ignored() {
    let req = request("GET", "/logs/_settings", "");
    let settings = |uuid: &str, created: &str, replicas: &str| {
        format!(
            r#"{{"logs":{{"settings":{{"index":{{"creation_date":"1700000000000","number_of_shards":"1","number_of_replicas":"{replicas}","uuid":"{uuid}","version":{{"created":"{created}"}},"provided_name":"logs"}}}}}}}}"#
        )
    };
    assert!(compare(&req, (200, &settings("u1", "6082399", "1")), (200, &settings("u2", "136327827", "1"))).matched);
    let verdict = compare(&req, (200, &settings("u1", "6082399", "1")), (200, &settings("u2", "136327827", "0")));
    assert_eq!(shape(&verdict), [("/logs/settings/index/number_of_replicas", DifferenceKind::Value)]);
}

#[test]
fn user_ignore_rules_apply_per_endpoint() {
    let config: CompareConfig = toml::from_str(
        r#"
        [endpoints."_search"]
        ignore = ["/hits/hits/*/_source/msg"]
        "#,
    )
    .unwrap();
    let req = request("GET", "/logs/_search", "{}");
    let source = search_body("1", &[("a", 1.0)], "");
    let target = source.replace(r#""msg":"ma""#, r#""msg":"other""#);
    assert!(compare_with(config.clone(), &req, (200, &source), (200, &target)).matched);
    let get = request("GET", "/logs/_doc/a", "");
    let doc = |msg: &str| format!(r#"{{"_index":"logs","_id":"a","found":true,"_source":{{"msg":"{msg}"}}}}"#);
    assert!(!compare_with(config, &get, (200, &doc("ma")), (200, &doc("other"))).matched, "other endpoints unaffected");
}

#[test]
fn cluster_endpoints_compare_status_only_by_default() {
    let req = request("GET", "/_cluster/health", "");
    let source = r#"{"cluster_name":"old","status":"yellow","number_of_nodes":3}"#;
    let target = r#"{"cluster_name":"new","status":"green","number_of_nodes":1}"#;
    assert!(compare(&req, (200, source), (200, target)).matched);
    assert!(!compare(&req, (200, source), (503, target)).matched);
    let config: CompareConfig = toml::from_str("[endpoints.\"_cluster.health\"]\nbody = true").unwrap();
    assert!(!compare_with(config, &req, (200, source), (200, target)).matched);
}

#[test]
fn differences_are_capped_and_excerpts_bounded() {
    let config = CompareConfig { max_differences: 5, ..CompareConfig::default() };
    let req = request("GET", "/logs/_doc/1", "");
    let many = |v: u32| {
        let fields: Vec<String> = (0..50).map(|i| format!(r#""f{i}":{v}"#)).collect();
        format!(r#"{{"_source":{{{}}}}}"#, fields.join(","))
    };
    assert_eq!(compare_with(config, &req, (200, &many(1)), (200, &many(2))).differences.len(), 5);

    let big = format!(r#"{{"_source":{{"blob":"{}"}}}}"#, "x".repeat(100_000));
    let verdict = compare(&req, (200, &big), (200, r#"{"_source":{"blob":"y"}}"#));
    let excerpt = find(&verdict, "/_source/blob").source.clone().unwrap();
    let text = excerpt.as_str().unwrap();
    assert!(text.len() <= 520 && text.ends_with('…'), "{}", text.len());
}

#[test]
fn captured_bytes_compare_with_a_target_response() {
    let raw = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n\
                a\r\n{\"count\":4\r\n13\r\n,\"_shards\":{\"a\":1}}\r\n0\r\n\r\n";
    let source = parse_response(raw, false).unwrap();
    let req = request("GET", "/logs/_count", "");
    let comparer = Comparer::new(CompareConfig::default()).unwrap();
    assert!(comparer.compare(&req, &source, &response(200, r#"{"count":4,"_shards":{"a":2}}"#)).matched);
    let verdict = comparer.compare(&req, &source, &response(200, r#"{"count":5}"#));
    assert_eq!(shape(&verdict), [("/count", DifferenceKind::Value)]);
}

#[test]
fn head_requests_compare_status_only() {
    let req = request("HEAD", "/logs/_doc/1", "");
    assert!(compare(&req, (200, ""), (200, "")).matched);
    assert_eq!(shape(&compare(&req, (200, ""), (404, ""))), [("", DifferenceKind::Status)]);
}

#[test]
fn garbage_bodies_never_panic() {
    let comparer = Comparer::new(CompareConfig::default()).unwrap();
    let seeds: &[&[u8]] = &[
        AGG_SOURCE.as_bytes(),
        BULK_REQUEST.as_bytes(),
        NOT_FOUND_ES6.as_bytes(),
        b"health status index\ngreen open logs\n",
        b"\xff\xfe\x00{[",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let paths = ["/_bulk", "/logs/_search", "/_cat/indices?v", "/logs/_doc", "/x/_mapping", "/logs/_source/1"];
    for round in 0..3000u32 {
        let mut pick = |seeds: &[&[u8]]| -> Vec<u8> {
            let mut bytes = seeds[(next() % seeds.len() as u64) as usize].to_vec();
            for _ in 0..(next() % 8) {
                if bytes.is_empty() {
                    break;
                }
                let at = (next() % bytes.len() as u64) as usize;
                match next() % 3 {
                    0 => bytes[at] = next() as u8,
                    1 => bytes.truncate(at),
                    _ => bytes.insert(at, b"{}[]\",:0"[(next() % 8) as usize]),
                }
            }
            bytes
        };
        let (body, s, t) = (pick(seeds), pick(seeds), pick(seeds));
        let path = paths[round as usize % paths.len()];
        let req = http::Request::builder().method("POST").uri(path).body(Bytes::from(body)).unwrap();
        let resp = |b: Vec<u8>| http::Response::builder().status(200).body(Bytes::from(b)).unwrap();
        let verdict = comparer.compare(&req, &resp(s.clone()), &resp(t.clone()));
        assert_eq!(verdict.matched, verdict.differences.is_empty());
        if s == t {
            assert!(verdict.matched, "identical bodies must match: {:?}", String::from_utf8_lossy(&s));
        }
        let _ = parse_response(&s, false);
    }
}
