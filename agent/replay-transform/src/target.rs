//! The request target taken apart into path segments and query parameters, and the Elasticsearch API a
//! request calls as far as body rewriting cares.

use http::uri::{PathAndQuery, Uri};
use http::Method;

/// A request path as segments, editable by rules; rebuilt into a URI only when a rule changed it, so untouched
/// requests keep their exact bytes.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// Segments between slashes, percent-encoding untouched. Empty for `*` and other non-path targets.
    pub(crate) segments: Vec<String>,
    trailing_slash: bool,
    /// The query without `?`, parameters in order.
    query: Option<String>,
    /// Whether the path starts with `/` (only those are rewritten).
    rewritable: bool,
    pub(crate) changed: bool,
}

impl Target {
    pub(crate) fn new(uri: &Uri) -> Target {
        let path = uri.path();
        let (segments, trailing_slash, rewritable) = match path.strip_prefix('/') {
            Some("") => (Vec::new(), false, true),
            Some(rest) => {
                let trailing = rest.ends_with('/');
                let rest = rest.strip_suffix('/').unwrap_or(rest);
                (rest.split('/').map(str::to_string).collect(), trailing, true)
            }
            None => (Vec::new(), false, false),
        };
        Target { segments, trailing_slash, query: uri.query().map(str::to_string), rewritable, changed: false }
    }

    /// Replaces the segments; marks the target changed only if they differ.
    pub(crate) fn set_segments(&mut self, segments: Vec<String>) {
        if self.rewritable && segments != self.segments {
            self.segments = segments;
            self.changed = true;
        }
    }

    /// The value of a query parameter (`Some("")` when present without `=`).
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query.as_deref()?.split('&').find_map(|pair| match pair.split_once('=') {
            Some((n, v)) if n == name => Some(v),
            None if pair == name => Some(""),
            _ => None,
        })
    }

    /// Drops every occurrence of a query parameter.
    pub(crate) fn remove_param(&mut self, name: &str) {
        let Some(query) = &self.query else { return };
        let kept: Vec<&str> =
            query.split('&').filter(|pair| pair.split_once('=').map_or(*pair, |(n, _)| n) != name).collect();
        if kept.len() != query.split('&').count() {
            self.query = if kept.is_empty() { None } else { Some(kept.join("&")) };
            self.changed = true;
        }
    }

    /// The rewritten path and query.
    pub(crate) fn path_and_query(&self) -> String {
        let mut out = String::from("/");
        out.push_str(&self.segments.join("/"));
        if self.trailing_slash && !self.segments.is_empty() {
            out.push('/');
        }
        if let Some(query) = &self.query {
            out.push('?');
            out.push_str(query);
        }
        out
    }

    /// `uri` with this target's path and query (scheme and authority kept).
    pub(crate) fn to_uri(&self, uri: &Uri) -> Result<Uri, String> {
        let path_and_query: PathAndQuery =
            self.path_and_query().parse().map_err(|e: http::uri::InvalidUri| e.to_string())?;
        let mut parts = uri.clone().into_parts();
        parts.path_and_query = Some(path_and_query);
        Uri::from_parts(parts).map_err(|e| e.to_string())
    }

    /// The API called, for the rules that rewrite bodies.
    pub(crate) fn api(&self, method: &Method) -> Api {
        let segs: Vec<&str> = self.segments.iter().map(String::as_str).collect();
        let writes = method == Method::PUT || method == Method::POST;
        match segs.as_slice() {
            [.., "_bulk"] => Api::Bulk,
            [.., "_mget"] => Api::Mget,
            ["_msearch", ..] | [_, "_msearch", ..] => Api::Msearch,
            ["_reindex"] => Api::Reindex,
            ["_aliases"] => Api::Aliases,
            ["_template", _] if writes => Api::Template,
            [index] if method == Method::PUT && !index.starts_with('_') => Api::CreateIndex,
            ["_mapping" | "_mappings", ..] | [_, "_mapping" | "_mappings", ..] if writes => Api::PutMapping,
            _ => Api::Other,
        }
    }
}

/// The APIs whose bodies name indices or mapping types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    /// `_bulk`: NDJSON action and source lines.
    Bulk,
    /// `_mget`: `docs` with `_index` / `_type`.
    Mget,
    /// `_msearch` (and `_msearch/template`): NDJSON header and body lines.
    Msearch,
    /// `_reindex`: `source` and `dest`.
    Reindex,
    /// `_aliases`: a list of actions.
    Aliases,
    /// `PUT /_template/{name}`: legacy index template with `mappings`.
    Template,
    /// `PUT /{index}`: `settings`, `mappings`, `aliases`.
    CreateIndex,
    /// `PUT /{index}/_mapping`: the mapping itself.
    PutMapping,
    /// Anything else: bodies are left alone.
    Other,
}

/// Whether a first path segment names indices (`logs`, `a,b`, `logs-*`, `_all`) rather than an API (`_bulk`).
pub(crate) fn is_index_expression(segment: &str) -> bool {
    !segment.is_empty() && (!segment.starts_with('_') || segment == "_all")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(s: &str) -> Target {
        Target::new(&s.parse().unwrap())
    }

    #[test]
    fn an_untouched_target_rebuilds_to_its_own_bytes() {
        for s in ["/", "/idx", "/idx/", "/a//b/?x=1&y", "/idx/_search?q=a%20b"] {
            let t = target(s);
            assert!(!t.changed);
            assert_eq!(t.path_and_query(), s);
        }
    }

    #[test]
    fn query_parameters_are_read_and_dropped_in_place() {
        let mut t = target("/idx?a=1&include_type_name=true&b&include_type_name");
        assert_eq!(t.param("include_type_name"), Some("true"));
        assert_eq!(t.param("b"), Some(""));
        t.remove_param("include_type_name");
        assert_eq!(t.path_and_query(), "/idx?a=1&b");
        let mut t = target("/idx?include_type_name=false");
        t.remove_param("include_type_name");
        assert_eq!(t.path_and_query(), "/idx");
        assert!(t.changed);
    }

    #[test]
    fn apis_are_told_apart_by_path_and_method() {
        assert_eq!(target("/_bulk").api(&Method::POST), Api::Bulk);
        assert_eq!(target("/idx/doc/_bulk").api(&Method::POST), Api::Bulk);
        assert_eq!(target("/idx/_msearch/template").api(&Method::GET), Api::Msearch);
        assert_eq!(target("/idx").api(&Method::PUT), Api::CreateIndex);
        assert_eq!(target("/idx").api(&Method::GET), Api::Other);
        assert_eq!(target("/_all").api(&Method::PUT), Api::Other);
        assert_eq!(target("/_template/t1").api(&Method::PUT), Api::Template);
        assert_eq!(target("/idx/_mapping/doc").api(&Method::PUT), Api::PutMapping);
        assert_eq!(target("/idx/_mapping/doc").api(&Method::GET), Api::Other);
        assert_eq!(target("*").api(&Method::OPTIONS), Api::Other);
    }
}
