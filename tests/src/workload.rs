//! Scripted client traffic for the replay end-to-end tests and the replay benchmark.
//!
//! - [`HttpConnection`] (from [`crate::http`]): each scripted connection is one captured connection.
//! - [`seed`]: the starting state both clusters get directly (no backfill) before capture starts, with one mapping
//!   that may differ between them ([`CategoryMapping`]), which the replay report must show.
//! - [`run_script`]: the scripted workload (writes of every kind, reads of every kind, errors, and two connections
//!   with interleaved dependent writes), returning what the source answered.
//! - [`run_burst`]: a longer, paced, idempotent write workload for kill-and-resume tests.
//! - [`dump`]: every document of every index, to compare the target with the source.
//! - [`write_bench_capture`]: a large synthetic capture log written record by record, for the benchmark.
//! - [`CaptureProxy`] and [`FerryProcess`] (from [`crate::process`]): `ferry capture` and `ferry replay` as child
//!   processes.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::thread;
use std::time::Duration;

use ferry_capture_log::{LogConfig, LogWriter};
use ferry_traffic::{Capture, Close, Connect, EndOfMessage, Index, Timestamp, TrafficObservation, TrafficStream};
use serde_json::{json, Value};

pub use crate::http::{HttpConnection, HttpResponse};
pub use crate::process::{CaptureProxy, FerryProcess};

/// Pause between two dependent writes on different connections. The replayer keeps each connection's order and
/// the original relative timing, not the order across connections; this gap is what lets a timed replay put the
/// second write after the first one's response, as it was captured.
const DEPENDENT_GAP: Duration = Duration::from_millis(40);

/// How the `category` field of `products` is mapped on a cluster: `keyword` on the source; `text` on the target
/// of the end-to-end test, so the term count and the terms aggregation on it differ there and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CategoryMapping {
    /// Exact values: term queries and terms aggregations work.
    Keyword,
    /// Analysed text: a term query for "Garden Tools" finds nothing and a terms aggregation is a 400.
    Text,
}

/// The product categories of the seed, in rotation; "Garden Tools" is the one the deliberate differences query.
const CATEGORIES: [&str; 4] = ["Garden Tools", "Kitchen", "Books", "Toys"];

/// Products in the seed.
const SEED_PRODUCTS: usize = 24;

/// Orders in the seed.
const SEED_ORDERS: usize = 8;

/// Creates the starting state on the cluster at `addr`: `products` (explicit mapping, `category` as given),
/// `orders` (dynamic mapping) and an empty `events` (auto-id writes go there), with their documents.
pub fn seed(addr: &str, category: CategoryMapping) {
    let mut conn = HttpConnection::connect(addr);
    let category_type = match category {
        CategoryMapping::Keyword => "keyword",
        CategoryMapping::Text => "text",
    };
    let products = json!({"mappings": {"properties": {
        "name": {"type": "text"}, "category": {"type": category_type}, "price": {"type": "long"},
        "stock": {"type": "long"}, "tags": {"type": "keyword"}}}});
    let events = json!({"mappings": {"properties": {"kind": {"type": "keyword"}, "n": {"type": "long"}}}});
    for (index, body) in [("products", Some(products)), ("orders", None), ("events", Some(events))] {
        let created = conn.json("PUT", &format!("/{index}"), body.as_ref());
        assert_eq!(created.status, 200, "create {index} on {addr}: {}", created.text());
    }
    let mut lines = Vec::new();
    for i in 0..SEED_PRODUCTS {
        lines.push(json!({"index": {"_index": "products", "_id": format!("p{i}")}}));
        lines.push(json!({"name": format!("product {i}"), "category": CATEGORIES[i % CATEGORIES.len()],
            "price": (i * 37) % 101 + 1, "stock": i % 5, "tags": [format!("t{}", i % 3)]}));
    }
    for i in 0..SEED_ORDERS {
        lines.push(json!({"index": {"_index": "orders", "_id": format!("o{i}")}}));
        lines.push(json!({"product": format!("p{i}"), "qty": i + 1, "status": "new"}));
    }
    let bulk = conn.ndjson("/_bulk?refresh=true", &lines);
    assert!(bulk.status == 200 && bulk.json()["errors"] == false, "seed bulk on {addr}: {}", bulk.text());
}

/// One request of a scripted workload and what the source answered.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The scripted connection's name (`writer-a`, `writer-b`, `reader`, `bulk`).
    pub connection: &'static str,
    /// The request method.
    pub method: String,
    /// The request target.
    pub path: String,
    /// The status the source returned.
    pub status: u16,
    /// The source's response.
    pub response: HttpResponse,
}

/// The requests of a scripted workload, in the order they were sent.
#[derive(Debug, Default)]
pub struct Transcript {
    /// Every request, in order.
    pub sent: Vec<Sent>,
}

/// The request whose response differs on purpose: a term count on `category` (6 on the source, 0 on a target
/// where it is `text`).
pub const DELIBERATE_COUNT: (&str, &str) = ("POST", "/products/_count");

/// The other deliberate difference: a terms aggregation on `category` (200 on the source, 400 on a `text` target).
/// The only request of the script with `size=0` in its URL, so a results line identifies it by path.
pub const DELIBERATE_AGGREGATION: (&str, &str) = ("POST", "/products/_search?size=0");

/// The documents in category "Garden Tools" after the script: the seed's six, less `p4` (deleted), plus `p100`.
pub const GARDEN_TOOLS_AFTER_SCRIPT: u64 = 6;

struct Script {
    connections: BTreeMap<&'static str, HttpConnection>,
    transcript: Transcript,
}

impl Script {
    fn send(&mut self, connection: &'static str, method: &str, path: &str, body: Body) -> Value {
        let conn = self.connections.get_mut(connection).unwrap_or_else(|| panic!("no connection {connection}"));
        let response = match body {
            Body::None => conn.json(method, path, None),
            Body::Json(value) => conn.json(method, path, Some(&value)),
            Body::Ndjson(lines) => conn.ndjson(path, &lines),
            Body::Raw(bytes) => conn.request(method, path, Some("application/json"), bytes),
        };
        let value = response.json();
        self.transcript.sent.push(Sent {
            connection,
            method: method.to_string(),
            path: path.to_string(),
            status: response.status,
            response,
        });
        value
    }

    /// Sends and asserts the source's status: the script is only meaningful when the source did what it says.
    fn expect(&mut self, connection: &'static str, method: &str, path: &str, body: Body, status: u16) -> Value {
        let value = self.send(connection, method, path, body);
        let got = self.transcript.sent.last().map(|s| s.status);
        assert_eq!(got, Some(status), "source answered {method} {path} on {connection} with {value}");
        value
    }
}

enum Body {
    None,
    Json(Value),
    Ndjson(Vec<Value>),
    Raw(&'static [u8]),
}

/// Runs the scripted workload against `addr` (the capture proxy in front of the source, seeded with
/// [`seed`]) over four keep-alive connections, asserting the source's statuses as it goes.
///
/// It indexes with and without ids, runs a `_bulk` with index/create/update/delete actions and one failing item,
/// updates, deletes, gets, searches with a sort, aggregates, scrolls (start, continue, clear), counts, lists
/// `_cat` tables, and sends errors (a missing index, bad JSON). Connections `writer-a` and `writer-b` then take
/// turns on one document (create, update, delete, create-only, update), each write sent only after the other
/// connection's previous write was answered, so only per-connection order plus the original timing rebuilds
/// `orders/shared` as `{"step": 3, "by": "b", "checked": true}`.
pub fn run_script(addr: &str) -> Transcript {
    let names = ["writer-a", "writer-b", "reader", "bulk"];
    let connections = names.iter().map(|name| (*name, HttpConnection::connect(addr))).collect();
    let mut s = Script { connections, transcript: Transcript::default() };

    // Writes of every kind.
    s.expect(
        "writer-a",
        "PUT",
        "/products/_doc/p100",
        Body::Json(json!({"name": "hose reel",
        "category": "Garden Tools", "price": 150, "stock": 3, "tags": ["new"]})),
        201,
    );
    s.expect("writer-b", "POST", "/events/_doc", Body::Json(json!({"kind": "visit", "n": 1})), 201);
    let bulk = s.expect(
        "bulk",
        "POST",
        "/_bulk",
        Body::Ndjson(vec![
            json!({"index": {"_index": "orders", "_id": "o100"}}),
            json!({"product": "p100", "qty": 2, "status": "new"}),
            json!({"create": {"_index": "orders", "_id": "o101"}}),
            json!({"product": "p7", "qty": 1, "status": "new"}),
            json!({"update": {"_index": "orders", "_id": "o0"}}),
            json!({"doc": {"status": "shipped"}}),
            json!({"delete": {"_index": "orders", "_id": "o1"}}),
            json!({"update": {"_index": "orders", "_id": "no-such-order"}}),
            json!({"doc": {"status": "lost"}}),
            json!({"index": {"_index": "events"}}),
            json!({"kind": "bulk", "n": 2}),
        ]),
        200,
    );
    let statuses: Vec<u64> = bulk["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|i| i.as_object()?.values().next()?["status"].as_u64()).collect())
        .unwrap_or_default();
    assert_eq!(statuses, vec![201, 201, 200, 200, 404, 201], "bulk items: {bulk}");
    s.expect("writer-a", "POST", "/products/_update/p3", Body::Json(json!({"doc": {"stock": 42}})), 200);
    s.expect("writer-a", "DELETE", "/products/_doc/p4", Body::None, 200);
    s.expect(
        "writer-b",
        "PUT",
        "/products/_doc/p5?refresh=true",
        Body::Json(json!({"name": "product 5 v2",
        "category": "Kitchen", "price": 9, "stock": 1, "tags": ["t2", "sale"]})),
        200,
    );

    // Reads of every kind.
    let p3 = s.expect("reader", "GET", "/products/_doc/p3", Body::None, 200);
    assert_eq!(p3["_source"]["stock"], 42, "{p3}");
    s.expect("reader", "GET", "/products/_doc/p4", Body::None, 404);
    s.expect(
        "reader",
        "POST",
        "/products/_search",
        Body::Json(json!({"query": {"range": {"price": {"gte": 20}}},
        "sort": [{"price": "asc"}], "size": 5})),
        200,
    );
    s.expect(
        "reader",
        "POST",
        "/products/_search",
        Body::Json(json!({"size": 0, "aggs": {
        "by_stock": {"terms": {"field": "stock"}}, "cheapest": {"min": {"field": "price"}},
        "dearest": {"max": {"field": "price"}}}})),
        200,
    );
    let (method, path) = DELIBERATE_AGGREGATION;
    s.expect(
        "reader",
        method,
        path,
        Body::Json(json!({"aggs": {"by_category": {"terms": {"field": "category"}}}})),
        200,
    );
    let (method, path) = DELIBERATE_COUNT;
    let count =
        s.expect("reader", method, path, Body::Json(json!({"query": {"term": {"category": "Garden Tools"}}})), 200);
    assert_eq!(count["count"], GARDEN_TOOLS_AFTER_SCRIPT, "{count}");
    s.expect("reader", "GET", "/products/_count", Body::None, 200);
    let page = s.expect(
        "reader",
        "POST",
        "/orders/_search?scroll=1m",
        Body::Json(json!({"size": 3,
        "sort": [{"qty": "asc"}]})),
        200,
    );
    let scroll_id = page["_scroll_id"].as_str().unwrap_or_else(|| panic!("no scroll id: {page}")).to_string();
    let next = s.expect(
        "reader",
        "POST",
        "/_search/scroll",
        Body::Json(json!({"scroll": "1m",
        "scroll_id": scroll_id})),
        200,
    );
    assert_eq!(next["hits"]["hits"].as_array().map(Vec::len), Some(3), "{next}");
    s.expect("reader", "DELETE", "/_search/scroll", Body::Json(json!({"scroll_id": [scroll_id]})), 200);
    s.expect("reader", "GET", "/_cat/indices?h=index,docs.count&s=index", Body::None, 200);
    s.expect("reader", "HEAD", "/products", Body::None, 200);

    // Errors.
    s.expect("bulk", "GET", "/no-such-index/_doc/1", Body::None, 404);
    s.expect("bulk", "PUT", "/orders/_doc/bad", Body::Raw(b"{\"product\": \"p1\", "), 400);

    // Interleaved dependent writes on one document.
    let steps: [(&'static str, &str, &str, Body, u16); 5] = [
        ("writer-a", "PUT", "/orders/_doc/shared", Body::Json(json!({"step": 1, "by": "a"})), 201),
        ("writer-b", "POST", "/orders/_update/shared", Body::Json(json!({"doc": {"step": 2, "by": "b"}})), 200),
        ("writer-a", "DELETE", "/orders/_doc/shared", Body::None, 200),
        ("writer-b", "PUT", "/orders/_create/shared", Body::Json(json!({"step": 3, "by": "b"})), 201),
        ("writer-a", "POST", "/orders/_update/shared", Body::Json(json!({"doc": {"checked": true}})), 200),
    ];
    for (connection, method, path, body, status) in steps {
        thread::sleep(DEPENDENT_GAP);
        s.expect(connection, method, path, body, status);
    }
    thread::sleep(DEPENDENT_GAP);
    let shared = s.expect("reader", "GET", "/orders/_doc/shared", Body::None, 200);
    assert_eq!(shared["_source"], json!({"step": 3, "by": "b", "checked": true}), "{shared}");
    s.expect("writer-b", "POST", "/events/_doc", Body::Json(json!({"kind": "visit", "n": 3})), 201);
    s.transcript
}

/// Runs `rounds` rounds of idempotent writes over `connections` keep-alive connections to `addr`, pacing each
/// request by `pace`, and returns the number of requests sent. Each connection owns its documents
/// (`burst/_doc/{connection}-{slot}`) and overwrites and deletes them in a fixed pattern, so the final state
/// depends on each connection's order, and replaying any suffix again (at-least-once after a crash) leaves it
/// unchanged.
pub fn run_burst(addr: &str, connections: usize, rounds: usize, pace: Duration) -> usize {
    let mut conns: Vec<HttpConnection> = (0..connections).map(|_| HttpConnection::connect(addr)).collect();
    let mut sent = 0;
    for round in 0..rounds {
        for (c, conn) in conns.iter_mut().enumerate() {
            let response = if round % 10 == 9 {
                let lines: Vec<Value> = (0..4)
                    .flat_map(|k| {
                        let id = format!("{c}-{}", (round + k * 7) % 40);
                        [json!({"index": {"_index": "burst", "_id": id}}), json!({"c": c, "round": round, "k": k})]
                    })
                    .collect();
                conn.ndjson("/_bulk", &lines)
            } else if round % 7 == 6 {
                conn.json("DELETE", &format!("/burst/_doc/{c}-{}", (round * 3) % 40), None)
            } else {
                let body = json!({"c": c, "round": round, "text": "x".repeat(round % 50)});
                conn.json("PUT", &format!("/burst/_doc/{c}-{}", round % 40), Some(&body))
            };
            assert!(matches!(response.status, 200 | 201 | 404), "burst round {round}: {}", response.text());
            sent += 1;
            thread::sleep(pace);
        }
    }
    sent
}

/// Every document of every index at `addr` except hidden (`.`-prefixed) ones: index → `_id` → `_source`.
/// Panics when an index holds more than one search page (10,000 documents).
pub fn dump(addr: &str) -> BTreeMap<String, BTreeMap<String, Value>> {
    let mut conn = HttpConnection::connect(addr);
    let listing = conn.json("GET", "/_cat/indices?format=json", None);
    assert_eq!(listing.status, 200, "list indices on {addr}: {}", listing.text());
    let mut indices = BTreeMap::new();
    for entry in listing.json().as_array().cloned().unwrap_or_default() {
        let Some(index) = entry["index"].as_str().filter(|name| !name.starts_with('.')) else { continue };
        let page = conn.json("POST", &format!("/{index}/_search"), Some(&json!({"size": 10000})));
        assert_eq!(page.status, 200, "search {index} on {addr}: {}", page.text());
        let page = page.json();
        let hits = page["hits"]["hits"].as_array().cloned().unwrap_or_default();
        assert_eq!(page["hits"]["total"]["value"].as_u64(), Some(hits.len() as u64), "{index} needs paging");
        let docs = hits
            .iter()
            .map(|hit| (hit["_id"].as_str().unwrap_or_default().to_string(), hit["_source"].clone()))
            .collect();
        indices.insert(index.to_string(), docs);
    }
    indices
}

/// The shape of a synthetic benchmark capture.
#[derive(Debug, Clone)]
pub struct BenchCapture {
    /// Exchanges to write.
    pub requests: u64,
    /// Client connections they are spread over (round robin).
    pub connections: u64,
    /// The rate the capture pretends they were made at, in requests per second (sets the timestamps).
    pub captured_rate: u64,
    /// Documents per `_bulk` request.
    pub docs_per_bulk: u64,
    /// One request in this many is a small search; the others are `_bulk` requests.
    pub search_every: u64,
}

/// What [`write_bench_capture`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BenchTotals {
    /// Exchanges written.
    pub requests: u64,
    /// `_bulk` exchanges among them.
    pub bulks: u64,
    /// Documents in all `_bulk` bodies.
    pub docs: u64,
    /// Request bytes (heads and bodies).
    pub request_bytes: u64,
    /// Response bytes.
    pub response_bytes: u64,
    /// Time between the first and the last captured request, in milliseconds.
    pub span_ms: u64,
}

/// xorshift64*: reproducible document sizes and contents without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Words the synthetic documents are made of: real text compresses like real text.
const WORDS: [&str; 16] = [
    "migration",
    "cluster",
    "shard",
    "replica",
    "segment",
    "snapshot",
    "index",
    "mapping",
    "document",
    "query",
    "latency",
    "throughput",
    "target",
    "source",
    "capture",
    "replay",
];

/// A document of 1–4 KB of JSON (about 2.5 KB on average).
fn bench_doc(rng: &mut Rng, id: u64) -> String {
    let target = 1024 + rng.below(3 * 1024);
    let mut text = String::with_capacity(usize::try_from(target).unwrap_or(4096));
    while (text.len() as u64) < target {
        text.push_str(WORDS[usize::try_from(rng.below(WORDS.len() as u64)).unwrap_or(0)]);
        text.push(' ');
    }
    json!({"id": id, "kind": format!("k{}", id % 10), "n": rng.below(1_000_000), "text": text}).to_string()
}

fn http_request(method: &str, path: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: source:9200\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

fn http_response(body: &[u8]) -> Vec<u8> {
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=UTF-8\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body);
    response
}

fn timestamp(start_ns: i128, offset_ns: i128) -> Timestamp {
    let ns = start_ns.saturating_add(offset_ns);
    Timestamp {
        seconds: i64::try_from(ns.div_euclid(1_000_000_000)).unwrap_or(i64::MAX),
        nanos: i32::try_from(ns.rem_euclid(1_000_000_000)).unwrap_or(0),
    }
}

/// Writes a synthetic capture log into `dir` as the capture proxy would (one `TrafficStream` record per
/// exchange: the request read, its end of message, the response written; `Connect` first and `Close` last on
/// each connection), with OpenSearch-shaped responses (`_bulk` items all `201 created`, search hits) and
/// timestamps at `spec.captured_rate`. Documents go to index `bench` with ids `0..docs`.
pub fn write_bench_capture(dir: &Path, spec: &BenchCapture) -> io::Result<BenchTotals> {
    let config = LogConfig { fsync: ferry_capture_log::FsyncPolicy::Never, ..LogConfig::default() };
    let mut log = LogWriter::open(dir, config).map_err(io::Error::other)?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut totals = BenchTotals::default();
    let connections = spec.connections.max(1);
    let mut numbers = vec![0i32; usize::try_from(connections).unwrap_or(1)];
    let interval_ns = 1_000_000_000i128 / i128::from(spec.captured_rate.max(1));
    let start_ns = Timestamp::now().as_nanos();
    for i in 0..spec.requests {
        let conn = i % connections;
        let at = interval_ns.saturating_mul(i128::from(i));
        let (request, response) = if spec.search_every > 0 && i % spec.search_every == 0 {
            let kind = format!("k{}", i % 10);
            let body = json!({"query": {"term": {"kind": kind}}, "size": 3}).to_string();
            let hits: Vec<Value> = (0..3)
                .map(|h| json!({"_index": "bench", "_id": (i + h).to_string(), "_score": 1.0, "_source": {"kind": kind}}))
                .collect();
            let answer = json!({"took": 1, "timed_out": false, "_shards": {"total": 1, "successful": 1,
                "skipped": 0, "failed": 0}, "hits": {"total": {"value": 3, "relation": "eq"}, "max_score": 1.0,
                "hits": hits}});
            (http_request("POST", "/bench/_search", "application/json", body.as_bytes()), answer)
        } else {
            let mut body = String::new();
            let mut items = Vec::new();
            for _ in 0..spec.docs_per_bulk {
                let id = totals.docs;
                body.push_str(&json!({"index": {"_index": "bench", "_id": id.to_string()}}).to_string());
                body.push('\n');
                body.push_str(&bench_doc(&mut rng, id));
                body.push('\n');
                items.push(json!({"index": {"_index": "bench", "_id": id.to_string(), "_version": 1,
                    "result": "created", "_shards": {"total": 2, "successful": 1, "failed": 0},
                    "_seq_no": id, "_primary_term": 1, "status": 201}}));
                totals.docs += 1;
            }
            totals.bulks += 1;
            let answer = json!({"took": 3, "errors": false, "items": items});
            (http_request("POST", "/_bulk", "application/x-ndjson", body.as_bytes()), answer)
        };
        let response = http_response(response.to_string().as_bytes());
        let slot = usize::try_from(conn).unwrap_or(0);
        let number = numbers.get(slot).copied().unwrap_or(0);
        let mut observations = Vec::with_capacity(5);
        if number == 0 {
            observations.push(TrafficObservation::new(timestamp(start_ns, at), Capture::Connect(Connect {})));
        }
        observations.push(TrafficObservation::new(
            timestamp(start_ns, at),
            Capture::Read(ferry_traffic::Read { data: request.clone() }),
        ));
        observations.push(TrafficObservation::new(
            timestamp(start_ns, at),
            Capture::EndOfMessageIndicator(EndOfMessage::default()),
        ));
        // The source answered 1 ms later.
        observations.push(TrafficObservation::new(
            timestamp(start_ns, at.saturating_add(1_000_000)),
            Capture::Write(ferry_traffic::Write { data: response.clone() }),
        ));
        let last = i + connections >= spec.requests;
        if last {
            observations.push(TrafficObservation::new(timestamp(start_ns, at + 2_000_000), Capture::Close(Close {})));
        }
        let record = TrafficStream {
            connection_id: format!("bench-{conn:04}"),
            node_id: "bench".to_string(),
            sub_stream: observations,
            prior_requests_received: Some(number),
            index: Some(if last { Index::NumberOfThisLastChunk(number) } else { Index::Number(number) }),
            ..TrafficStream::default()
        };
        log.append(&record.encode_to_vec()).map_err(io::Error::other)?;
        if let Some(n) = numbers.get_mut(slot) {
            *n = n.saturating_add(1);
        }
        totals.requests += 1;
        totals.request_bytes += request.len() as u64;
        totals.response_bytes += response.len() as u64;
        totals.span_ms = u64::try_from(at / 1_000_000).unwrap_or(u64::MAX);
    }
    log.sync().map_err(io::Error::other)?;
    Ok(totals)
}
