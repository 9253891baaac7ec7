//! Which API a request calls, from its method and path.

use serde::{Deserialize, Serialize};

/// The API a request calls and the indices it names, for grouping results and choosing per-endpoint rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// A stable name: `_search`, `_bulk`, `doc.index`, `doc.get`, `indices.create`, `_cat.indices`, `info`…
    /// Unknown APIs are named after their first `_` segment (`_explain`), or `other`.
    pub name: String,
    /// Indices (or patterns, aliases, data streams) named in the path, in order, comma lists split.
    pub indices: Vec<String>,
}

/// An [`Endpoint`] plus the document id in the path, which the comparer needs to spot server-generated ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    pub(crate) endpoint: Endpoint,
    pub(crate) doc_id: Option<String>,
}

/// Classifies a request by method and path (a query string, if present, is ignored). Indices are the first path
/// segment when it does not start with `_` (or is `_all`), or the segment after `_cat/<api>/` or `_cluster/health/`;
/// percent-escapes are decoded. ES ≤ 6 typed paths (`/idx/type/id`, `/idx/type/_search`) classify like their
/// typeless forms.
pub fn endpoint(method: &http::Method, path: &str) -> Endpoint {
    route(method, path).endpoint
}

pub(crate) fn route(method: &http::Method, path: &str) -> Route {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let segments: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match segments.split_first() {
        None => plain(if *method == http::Method::HEAD { "ping" } else { "info" }, Vec::new()),
        // `_all` is the one `_` name that selects indices rather than an API.
        Some((first, rest)) if !first.starts_with('_') || *first == "_all" => {
            index_scoped(method, split_indices(first), rest)
        }
        Some(_) => cluster_scoped(method, &segments),
    }
}

fn plain(name: &str, indices: Vec<String>) -> Route {
    Route { endpoint: Endpoint { name: name.to_string(), indices }, doc_id: None }
}

fn split_indices(segment: &str) -> Vec<String> {
    segment.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// Paths under `/<indices>/…`.
fn index_scoped(method: &http::Method, indices: Vec<String>, rest: &[&str]) -> Route {
    let Some((&api, tail)) = rest.split_first() else {
        let name = match *method {
            http::Method::PUT => "indices.create",
            http::Method::DELETE => "indices.delete",
            http::Method::HEAD => "indices.exists",
            _ => "indices.get",
        };
        return plain(name, indices);
    };
    match api {
        "_doc" => document(method, indices, tail),
        "_create" | "_update" | "_source" | "_explain" | "_termvectors" => {
            let doc_id = tail.first().map(|id| id.to_string());
            let name = doc_api_name(api, method);
            Route { endpoint: Endpoint { name, indices }, doc_id }
        }
        api if api.starts_with('_') => plain(&api_name(method, rest), indices),
        // ES ≤ 6: `/idx/type/…`. The type is dropped; what follows is either an API or a document id.
        _ => match tail.first() {
            Some(next) if next.starts_with('_') => plain(&api_name(method, tail), indices),
            _ => document(method, indices, tail),
        },
    }
}

/// `/<indices>/_doc[/<id>[/<api>]]` and its typed equivalent, `tail` starting after `_doc` or the type.
fn document(method: &http::Method, indices: Vec<String>, tail: &[&str]) -> Route {
    let doc_id = tail.first().map(|id| id.to_string());
    let name = match tail.get(1) {
        Some(api) => doc_api_name(api, method),
        None => match *method {
            http::Method::GET => "doc.get".to_string(),
            http::Method::HEAD => "doc.exists".to_string(),
            http::Method::DELETE => "doc.delete".to_string(),
            _ => "doc.index".to_string(),
        },
    };
    Route { endpoint: Endpoint { name, indices }, doc_id }
}

fn doc_api_name(api: &str, method: &http::Method) -> String {
    match api {
        "_create" => "doc.create".to_string(),
        "_update" => "doc.update".to_string(),
        "_source" if *method == http::Method::HEAD => "doc.source_exists".to_string(),
        "_source" => "doc.get_source".to_string(),
        other => other.to_string(),
    }
}

/// Paths whose first segment is an API (`/_search`, `/_cat/indices/x`, `/_cluster/health`).
fn cluster_scoped(method: &http::Method, segments: &[&str]) -> Route {
    let indices = match segments {
        ["_cat", api, list, ..] if matches!(*api, "indices" | "shards" | "count" | "segments" | "recovery") => {
            split_indices(list)
        }
        ["_cluster", "health", list, ..] => split_indices(list),
        _ => Vec::new(),
    };
    plain(&api_name(method, segments), indices)
}

/// The name of the API whose segments start at `api` (the first `_` segment).
fn api_name(method: &http::Method, api: &[&str]) -> String {
    let write = matches!(*method, http::Method::PUT | http::Method::POST);
    match api {
        ["_cat", sub, ..] | ["_cluster", sub, ..] if !sub.starts_with('_') || *sub == "_all" => {
            format!("{}.{sub}", api.first().copied().unwrap_or_default())
        }
        ["_search", "scroll", ..] => "_search.scroll".to_string(),
        ["_search", "template", ..] => "_search.template".to_string(),
        ["_mapping" | "_mappings", ..] if write => "indices.put_mapping".to_string(),
        ["_mapping" | "_mappings", ..] => "indices.get_mapping".to_string(),
        ["_settings", ..] if write => "indices.put_settings".to_string(),
        ["_settings", ..] => "indices.get_settings".to_string(),
        ["_alias" | "_aliases", ..] => "indices.aliases".to_string(),
        ["_refresh", ..] => "indices.refresh".to_string(),
        ["_flush", ..] => "indices.flush".to_string(),
        ["_forcemerge", ..] => "indices.forcemerge".to_string(),
        ["_open", ..] => "indices.open".to_string(),
        ["_close", ..] => "indices.close".to_string(),
        ["_stats", ..] => "indices.stats".to_string(),
        [first, ..] => first.to_string(),
        [] => "other".to_string(),
    }
}

/// Decodes `%XX` escapes; malformed escapes stay as written (a path is a label here, not something to reject).
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let escaped = match (b, bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => hex(h).zip(hex(l)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match escaped {
            Some(decoded) => {
                out.push(decoded);
                i += 3;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;

    fn check(method: Method, path: &str, name: &str, indices: &[&str]) {
        let got = endpoint(&method, path);
        assert_eq!(
            (got.name.as_str(), got.indices.iter().map(String::as_str).collect::<Vec<_>>()),
            (name, indices.to_vec()),
            "{method} {path}"
        );
    }

    #[test]
    fn document_apis_typed_and_typeless() {
        check(Method::POST, "/logs/_doc", "doc.index", &["logs"]);
        check(Method::PUT, "/logs/_doc/1?refresh=true", "doc.index", &["logs"]);
        check(Method::GET, "/logs/_doc/1", "doc.get", &["logs"]);
        check(Method::HEAD, "/logs/_doc/1", "doc.exists", &["logs"]);
        check(Method::DELETE, "/logs/_doc/1", "doc.delete", &["logs"]);
        check(Method::PUT, "/logs/_create/1", "doc.create", &["logs"]);
        check(Method::POST, "/logs/_update/1", "doc.update", &["logs"]);
        check(Method::GET, "/logs/_source/1", "doc.get_source", &["logs"]);
        check(Method::POST, "/logs/doc", "doc.index", &["logs"]);
        check(Method::PUT, "/logs/doc/1/_create", "doc.create", &["logs"]);
        check(Method::POST, "/logs/doc/1/_update", "doc.update", &["logs"]);
        check(Method::GET, "/logs/doc/_search", "_search", &["logs"]);
        assert_eq!(route(&Method::POST, "/logs/_doc").doc_id, None);
        assert_eq!(route(&Method::POST, "/logs/doc").doc_id, None);
        assert_eq!(route(&Method::PUT, "/logs/doc/7").doc_id.as_deref(), Some("7"));
    }

    #[test]
    fn index_and_cluster_apis() {
        check(Method::PUT, "/logs", "indices.create", &["logs"]);
        check(Method::DELETE, "/a,b", "indices.delete", &["a", "b"]);
        check(Method::GET, "/logs-*,metrics/_search", "_search", &["logs-*", "metrics"]);
        check(Method::POST, "/_search/scroll", "_search.scroll", &[]);
        check(Method::POST, "/_bulk", "_bulk", &[]);
        check(Method::POST, "/logs/_bulk", "_bulk", &["logs"]);
        check(Method::PUT, "/logs/_mapping", "indices.put_mapping", &["logs"]);
        check(Method::GET, "/logs/_mapping", "indices.get_mapping", &["logs"]);
        check(Method::GET, "/_cat/indices/logs,x?v", "_cat.indices", &["logs", "x"]);
        check(Method::GET, "/_cat/count", "_cat.count", &[]);
        check(Method::GET, "/_cluster/health/logs", "_cluster.health", &["logs"]);
        check(Method::GET, "/", "info", &[]);
        check(Method::HEAD, "/", "ping", &[]);
        check(Method::GET, "/%3Clogs-%7Bnow%2Fd%7D%3E/_count", "_count", &["<logs-{now/d}>"]);
        check(Method::GET, "/logs/_explain/1", "_explain", &["logs"]);
        check(Method::GET, "/a%2Cb/_refresh", "indices.refresh", &["a", "b"]);
        check(Method::GET, "/%zz/_cat", "_cat", &["%zz"]);
        check(Method::GET, "//_nodes/stats", "_nodes", &[]);
        check(Method::GET, "/_all/_search", "_search", &["_all"]);
        check(Method::GET, "/_all/_settings", "indices.get_settings", &["_all"]);
    }
}
