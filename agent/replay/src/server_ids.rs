//! Ids the server hands out for later requests — scroll ids, point-in-time ids, and the ids of documents indexed
//! without one — differ between source and target. A captured `_search/scroll`, PIT search or
//! `GET /idx/_doc/<generated id>` carries the source's id, which the target does not know (or, for a `PUT`,
//! would make a second document of); the replay learns each pair from the two responses of the request that
//! created the id and swaps the source's id for the target's in the requests that follow.
//!
//! Learning is cheap when there is nothing to learn: bodies are only parsed when they mention such a field or
//! the request had the server generate document ids. Scroll and PIT ids are replaced in the path, query and
//! (uncompressed) body of requests that can carry them; document ids in path segments after the index (`_doc`,
//! `_update`, `_source`, `_create` and typed ES ≤ 6 paths). Document ids inside `_bulk` and `_mget` bodies are
//! not rewritten.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use ferry_replay_compare::GeneratedIds;
use serde_json::Value;

/// Pairs kept; the oldest are forgotten first (a client abandoning scrolls, or indexing millions of documents
/// with generated ids, must not grow the map without bound). About 20 MB when full.
const CAPACITY: usize = 100_000;

/// Top-level response fields holding a server-generated cursor id: `_scroll_id` (search and scroll), `pit_id`
/// (OpenSearch's point in time, and searches using one), `id` (Elasticsearch's `_pit` creation answer).
const FIELDS: [&str; 3] = ["_scroll_id", "pit_id", "id"];

/// Source id → target id, for cursors (scroll and PIT ids) and documents apart: a cursor id is only swapped
/// where a cursor goes, a document id only in a document's path.
#[derive(Debug, Default)]
pub(crate) struct ServerIds {
    cursors: Mutex<Pairs>,
    documents: Mutex<Pairs>,
}

#[derive(Debug, Default)]
struct Pairs {
    by_source: HashMap<String, String>,
    age: VecDeque<String>,
}

impl Pairs {
    fn insert(&mut self, from: &str, to: &str) {
        if from == to {
            return;
        }
        if self.by_source.insert(from.to_string(), to.to_string()).is_none() {
            self.age.push_back(from.to_string());
        }
        while self.age.len() > CAPACITY {
            if let Some(oldest) = self.age.pop_front() {
                self.by_source.remove(&oldest);
            }
        }
    }
}

fn lock(pairs: &Mutex<Pairs>) -> MutexGuard<'_, Pairs> {
    pairs.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ServerIds {
    /// Learns the ids from the two responses (bodies without content coding) to `request` (as sent to the
    /// target). `id` is only taken from the answer to a point-in-time creation, where it is the cursor.
    pub(crate) fn learn(&self, request: &http::Request<Bytes>, generated: &GeneratedIds, source: &[u8], target: &[u8]) {
        let pit_creation = request.uri().path().ends_with("/_pit");
        let fields: Vec<&str> =
            FIELDS.into_iter().filter(|f| (*f != "id" || pit_creation) && contains_field(source, f)).collect();
        if fields.is_empty() && !generated.root && generated.items.is_empty() {
            return;
        }
        let (Ok(source), Ok(target)) =
            (serde_json::from_slice::<Value>(source), serde_json::from_slice::<Value>(target))
        else {
            return;
        };
        {
            let mut cursors = lock(&self.cursors);
            for (from, to) in fields.iter().filter_map(|f| strings(&source[*f], &target[*f])) {
                cursors.insert(from, to);
            }
        }
        let mut documents = lock(&self.documents);
        if let Some((from, to)) = strings(&source["_id"], &target["_id"]).filter(|_| generated.root) {
            documents.insert(from, to);
        }
        if let (Some(Value::Array(from)), Some(Value::Array(to))) = (source.get("items"), target.get("items")) {
            for &position in &generated.items {
                let ids = from.get(position).and_then(action_id).zip(to.get(position).and_then(action_id));
                if let Some((from, to)) = ids.and_then(|(from, to)| strings(from, to)) {
                    documents.insert(from, to);
                }
            }
        }
    }

    /// Replaces known source ids in a request (see the module documentation for where).
    pub(crate) fn rewrite(&self, request: &mut http::Request<Bytes>) {
        self.rewrite_document_ids(request);
        // No cursor learned yet (most replays): nothing to look for in the request.
        let pairs = lock(&self.cursors);
        if pairs.by_source.is_empty() {
            return;
        }
        let uri = request.uri().to_string();
        let in_uri = uri.contains("scroll") || uri.contains("_pit") || uri.contains("point_in_time");
        let compressed = request.headers().contains_key(http::header::CONTENT_ENCODING);
        let in_body = !compressed && (in_uri || contains_field(request.body(), "pit"));
        if in_uri {
            let mut rewritten = uri.clone();
            for (from, to) in &pairs.by_source {
                if rewritten.contains(from.as_str()) {
                    rewritten = rewritten.replace(from.as_str(), to);
                }
            }
            if rewritten != uri {
                if let Ok(parsed) = rewritten.parse() {
                    *request.uri_mut() = parsed;
                }
            }
        }
        if in_body {
            let Ok(body) = std::str::from_utf8(request.body()) else { return };
            let mut rewritten = None::<String>;
            for (from, to) in &pairs.by_source {
                let current = rewritten.as_deref().unwrap_or(body);
                if current.contains(from.as_str()) {
                    rewritten = Some(current.replace(from.as_str(), to));
                }
            }
            if let Some(body) = rewritten {
                let length = body.len();
                *request.body_mut() = Bytes::from(body);
                if let Ok(value) = http::HeaderValue::from_str(&length.to_string()) {
                    request.headers_mut().insert(http::header::CONTENT_LENGTH, value);
                }
            }
        }
    }
}

impl ServerIds {
    /// Path segments after the index that are a known source id become the target's.
    fn rewrite_document_ids(&self, request: &mut http::Request<Bytes>) {
        let path = request.uri().path();
        if path.matches('/').count() < 3 {
            return;
        }
        let rewritten = {
            let pairs = lock(&self.documents);
            if pairs.by_source.is_empty() {
                return;
            }
            let mut changed = false;
            let segments: Vec<&str> = path
                .split('/')
                .enumerate()
                .map(|(i, segment)| match pairs.by_source.get(segment) {
                    Some(to) if i >= 3 => {
                        changed = true;
                        to.as_str()
                    }
                    _ => segment,
                })
                .collect();
            if !changed {
                return;
            }
            let query = request.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
            format!("{}{query}", segments.join("/"))
        };
        if let Ok(uri) = rewritten.parse() {
            *request.uri_mut() = uri;
        }
    }
}

/// Both values, when both are strings.
fn strings<'a>(from: &'a Value, to: &'a Value) -> Option<(&'a str, &'a str)> {
    from.as_str().zip(to.as_str())
}

/// The `_id` of a `_bulk` response item (`{"index": {"_id": …}}`).
fn action_id(item: &Value) -> Option<&Value> {
    item.as_object().and_then(|actions| actions.values().next()).and_then(|action| action.get("_id"))
}

/// Whether `body` contains `"field"` (with the quotes): a cheap test before parsing.
fn contains_field(body: &[u8], field: &str) -> bool {
    memchr::memmem::find_iter(body, field.as_bytes())
        .any(|at| at > 0 && body[at - 1] == b'"' && body.get(at + field.len()) == Some(&b'"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, uri: &str, body: &str) -> http::Request<Bytes> {
        let mut request = http::Request::new(Bytes::from(body.to_string()));
        *request.method_mut() = method.parse().unwrap();
        *request.uri_mut() = uri.parse().unwrap();
        request.headers_mut().insert(http::header::CONTENT_LENGTH, body.len().into());
        request
    }

    #[test]
    fn scroll_ids_learned_from_a_search_are_swapped_in_later_scroll_requests() {
        let ids = ServerIds::default();
        let search = request("POST", "/i/_search?scroll=1m", "{}");
        ids.learn(
            &search,
            &GeneratedIds::of(&search),
            br#"{"_scroll_id":"SRC1","hits":{}}"#,
            br#"{"_scroll_id":"TARGET-1","hits":{}}"#,
        );
        let mut body = request("POST", "/_search/scroll", r#"{"scroll":"1m","scroll_id":"SRC1"}"#);
        ids.rewrite(&mut body);
        assert_eq!(body.body().as_ref(), br#"{"scroll":"1m","scroll_id":"TARGET-1"}"#);
        assert_eq!(body.headers()[http::header::CONTENT_LENGTH], "38");
        let mut path = request("GET", "/_search/scroll/SRC1?scroll=1m", "");
        ids.rewrite(&mut path);
        assert_eq!(path.uri(), "/_search/scroll/TARGET-1?scroll=1m");
        let mut query = request("DELETE", "/_search/scroll?scroll_id=SRC1", "");
        ids.rewrite(&mut query);
        assert_eq!(query.uri(), "/_search/scroll?scroll_id=TARGET-1");
    }

    #[test]
    fn pit_ids_are_swapped_in_searches_and_other_requests_are_untouched() {
        let ids = ServerIds::default();
        let pit = request("POST", "/i/_pit", "");
        ids.learn(&pit, &GeneratedIds::of(&pit), br#"{"id":"P-SRC"}"#, br#"{"id":"P-TGT"}"#);
        let put = request("PUT", "/i/_doc/1", "{}");
        ids.learn(
            &put,
            &GeneratedIds::of(&put),
            br#"{"_index":"i","_id":"1","id":"x"}"#,
            br#"{"_index":"i","_id":"1","id":"y"}"#,
        );
        let mut search = request("POST", "/_search", r#"{"pit":{"id":"P-SRC","keep_alive":"1m"}}"#);
        ids.rewrite(&mut search);
        assert_eq!(search.body().as_ref(), br#"{"pit":{"id":"P-TGT","keep_alive":"1m"}}"#);
        let mut unrelated = request("PUT", "/i/_doc/P-SRC", r#"{"note":"P-SRC"}"#);
        ids.rewrite(&mut unrelated);
        assert_eq!((unrelated.uri().path(), unrelated.body().as_ref()), ("/i/_doc/P-SRC", &br#"{"note":"P-SRC"}"#[..]));
        assert_eq!(lock(&ids.cursors).by_source.len(), 1, "a document's `id` outside a PIT creation is not a cursor");
    }

    #[test]
    fn generated_document_ids_are_swapped_in_later_document_paths() {
        let ids = ServerIds::default();
        let index = request("POST", "/logs/_doc", r#"{"m":1}"#);
        ids.learn(
            &index,
            &GeneratedIds::of(&index),
            br#"{"_index":"logs","_id":"SRC-A","result":"created"}"#,
            br#"{"_index":"logs","_id":"TGT-A"}"#,
        );
        let bulk = request(
            "POST",
            "/_bulk",
            "{\"index\":{\"_index\":\"logs\"}}\n{}\n{\"index\":{\"_index\":\"logs\",\"_id\":\"mine\"}}\n{}\n",
        );
        ids.learn(
            &bulk,
            &GeneratedIds::of(&bulk),
            br#"{"items":[{"index":{"_id":"SRC-B","status":201}},{"index":{"_id":"mine","status":201}}]}"#,
            br#"{"items":[{"index":{"_id":"TGT-B","status":201}},{"index":{"_id":"mine","status":201}}]}"#,
        );
        let mut update = request("POST", "/logs/_update/SRC-A?refresh=true", r#"{"doc":{"m":2}}"#);
        ids.rewrite(&mut update);
        assert_eq!(update.uri(), "/logs/_update/TGT-A?refresh=true");
        let mut get = request("GET", "/logs/_doc/SRC-B", "");
        ids.rewrite(&mut get);
        assert_eq!(get.uri(), "/logs/_doc/TGT-B");
        let mut index_named_like_an_id = request("GET", "/SRC-A/_search", "");
        ids.rewrite(&mut index_named_like_an_id);
        assert_eq!(index_named_like_an_id.uri(), "/SRC-A/_search", "an index segment is never rewritten");
        assert_eq!(lock(&ids.documents).by_source.len(), 2, "an id the client chose is the same on both sides");
    }

    #[test]
    fn the_oldest_pairs_are_forgotten_beyond_the_capacity() {
        let ids = ServerIds::default();
        for n in 0..=CAPACITY {
            lock(&ids.cursors).insert(&format!("s{n}"), &format!("t{n}"));
        }
        let pairs = lock(&ids.cursors);
        assert_eq!(pairs.by_source.len(), CAPACITY);
        assert!(!pairs.by_source.contains_key("s0") && pairs.by_source.contains_key("s1"));
    }
}
