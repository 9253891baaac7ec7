//! Ids the server hands out for later requests — scroll ids and point-in-time ids — differ between source and
//! target. A captured `_search/scroll` or PIT search carries the source's id, which the target does not know;
//! the replay learns each pair from the two responses of the request that created or advanced the cursor and
//! swaps the source's id for the target's in the requests that follow.
//!
//! Learning is cheap when there is nothing to learn: bodies are only parsed when they mention such a field.
//! Requests are only rewritten when their path or body can carry such an id, and a compressed request body is
//! left alone.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use serde_json::Value;

/// Pairs kept; the oldest are forgotten first (a client abandoning scrolls without clearing them must not grow
/// the map without bound).
const CAPACITY: usize = 10_000;

/// Top-level response fields holding a server-generated cursor id: `_scroll_id` (search and scroll), `pit_id`
/// (OpenSearch's point in time, and searches using one), `id` (Elasticsearch's `_pit` creation answer).
const FIELDS: [&str; 3] = ["_scroll_id", "pit_id", "id"];

/// Source id → target id.
#[derive(Debug, Default)]
pub(crate) struct ServerIds {
    pairs: Mutex<Pairs>,
}

#[derive(Debug, Default)]
struct Pairs {
    by_source: HashMap<String, String>,
    age: VecDeque<String>,
}

impl ServerIds {
    fn pairs(&self) -> MutexGuard<'_, Pairs> {
        self.pairs.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Learns the ids from a request's two responses (bodies without content coding). `id` is only taken from
    /// the answer to a point-in-time creation, where it is the cursor.
    pub(crate) fn learn(&self, path: &str, source: &[u8], target: &[u8]) {
        let pit_creation = path.ends_with("/_pit");
        let fields: Vec<&str> =
            FIELDS.into_iter().filter(|f| (*f != "id" || pit_creation) && contains_field(source, f)).collect();
        if fields.is_empty() {
            return;
        }
        let (Ok(source), Ok(target)) =
            (serde_json::from_slice::<Value>(source), serde_json::from_slice::<Value>(target))
        else {
            return;
        };
        for field in fields {
            if let (Some(Value::String(from)), Some(Value::String(to))) = (source.get(field), target.get(field)) {
                if from != to {
                    self.insert(from.clone(), to.clone());
                }
            }
        }
    }

    fn insert(&self, from: String, to: String) {
        let mut pairs = self.pairs();
        if pairs.by_source.insert(from.clone(), to).is_none() {
            pairs.age.push_back(from);
        }
        while pairs.age.len() > CAPACITY {
            if let Some(oldest) = pairs.age.pop_front() {
                pairs.by_source.remove(&oldest);
            }
        }
    }

    /// Replaces known source ids in the path, query and (uncompressed) body of a request that can carry one.
    pub(crate) fn rewrite(&self, request: &mut http::Request<Bytes>) {
        let uri = request.uri().to_string();
        let in_uri = uri.contains("scroll") || uri.contains("_pit") || uri.contains("point_in_time");
        let compressed = request.headers().contains_key(http::header::CONTENT_ENCODING);
        let in_body = !compressed && (in_uri || contains_field(request.body(), "pit"));
        if !in_uri && !in_body {
            return;
        }
        let pairs = self.pairs();
        if pairs.by_source.is_empty() {
            return;
        }
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

/// Whether `body` contains `"field"` (with the quotes): a cheap test before parsing.
fn contains_field(body: &[u8], field: &str) -> bool {
    let needle = format!("\"{field}\"");
    body.windows(needle.len()).any(|w| w == needle.as_bytes())
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
        ids.learn("/i/_search", br#"{"_scroll_id":"SRC1","hits":{}}"#, br#"{"_scroll_id":"TARGET-1","hits":{}}"#);
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
        ids.learn("/i/_pit", br#"{"id":"P-SRC"}"#, br#"{"id":"P-TGT"}"#);
        ids.learn("/i/_doc/1", br#"{"_index":"i","_id":"1"}"#, br#"{"_index":"i","_id":"1"}"#);
        let mut search = request("POST", "/_search", r#"{"pit":{"id":"P-SRC","keep_alive":"1m"}}"#);
        ids.rewrite(&mut search);
        assert_eq!(search.body().as_ref(), br#"{"pit":{"id":"P-TGT","keep_alive":"1m"}}"#);
        let mut unrelated = request("PUT", "/i/_doc/P-SRC", r#"{"note":"P-SRC"}"#);
        ids.rewrite(&mut unrelated);
        assert_eq!((unrelated.uri().path(), unrelated.body().as_ref()), ("/i/_doc/P-SRC", &br#"{"note":"P-SRC"}"#[..]));
        assert_eq!(ids.pairs().by_source.len(), 1, "a document's `id` outside a PIT creation is not a cursor");
    }

    #[test]
    fn the_oldest_pairs_are_forgotten_beyond_the_capacity() {
        let ids = ServerIds::default();
        for n in 0..=CAPACITY {
            ids.insert(format!("s{n}"), format!("t{n}"));
        }
        let pairs = ids.pairs();
        assert_eq!(pairs.by_source.len(), CAPACITY);
        assert!(!pairs.by_source.contains_key("s0") && pairs.by_source.contains_key("s1"));
    }
}
