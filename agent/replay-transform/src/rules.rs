//! The compiled rule list and the request being rewritten.

use std::io::Write as _;

use bytes::Bytes;
use ferry_traffic::message::{decode_content, is_zlib_header, ContentError};
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, HOST};
use http::uri::Authority;
use http::Request;
use regex::Regex;

use crate::config::{AuthAction, RuleConfig, TypeNames};
use crate::error::{Error, Result};
use crate::rename::{invalid_name, Renamer};
use crate::target::Target;
use crate::types::TypeRemoval;

/// The largest body a rule will decompress (Elasticsearch's default `http.max_content_length`); anything larger
/// would be refused by the target anyway.
pub const MAX_DECODED_BODY: usize = 100 * 1024 * 1024;

/// Headers the SigV4 signature of a captured request travels in, besides `Authorization`.
const SIGV4_HEADERS: &[&str] = &["x-amz-date", "x-amz-security-token", "x-amz-content-sha256"];

/// Headers `header` rules may not touch: framing and content coding are kept consistent with the body by this
/// crate, and `Host` belongs to the `host` rule (which also pins it).
const RESERVED_HEADERS: &[(&str, &str)] = &[
    ("host", "use a `host` rule"),
    ("content-length", "it is set from the body"),
    ("transfer-encoding", "replayed bodies are sent with a length"),
    ("content-encoding", "the body is re-encoded with the captured coding"),
];

/// Which of the headers the sender normally controls were decided by the rules, so the sender must send them
/// as they are. Stored in the request's extensions by [`Rules::apply`]; absent means nothing is pinned.
///
/// The sender's contract: set `Host` from the target URL unless `host` is pinned; apply the target's configured
/// credentials (basic, or SigV4 signing of the final bytes after every rule), replacing any `Authorization`,
/// unless `authorization` is pinned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pinned {
    /// A `host` rule set `Host`.
    pub host: bool,
    /// `auth` `keep` kept the captured `Authorization`, or a `header` rule set one.
    pub authorization: bool,
}

impl Pinned {
    /// What `request` has pinned.
    pub fn of<B>(request: &Request<B>) -> Pinned {
        request.extensions().get::<Pinned>().copied().unwrap_or_default()
    }
}

/// An ordered, validated set of request transformations, built once from the configuration and applied to
/// every replayed request.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
enum Rule {
    Host(HeaderValue),
    Auth(AuthAction),
    RemoveTypes(TypeRemoval),
    RenameIndex(Renamer),
    Header { remove: Vec<HeaderName>, set: Vec<(HeaderName, HeaderValue)> },
}

impl Rule {
    fn apply(&self, draft: &mut Draft) -> Result<(), Failure> {
        let headers = &mut draft.parts.headers;
        match self {
            Rule::Host(value) => {
                headers.insert(HOST, value.clone());
                draft.pin(|p| p.host = true);
            }
            Rule::Auth(AuthAction::Strip) => {
                headers.remove(AUTHORIZATION);
                for name in SIGV4_HEADERS {
                    headers.remove(*name);
                }
                draft.pin(|p| p.authorization = false);
            }
            Rule::Auth(AuthAction::Keep) => draft.pin(|p| p.authorization = true),
            Rule::RemoveTypes(removal) => removal.apply(draft)?,
            Rule::RenameIndex(renamer) => renamer.apply(draft)?,
            Rule::Header { remove, set } => {
                for name in remove {
                    headers.remove(name);
                }
                for (name, value) in set {
                    headers.insert(name.clone(), value.clone());
                }
                if set.iter().any(|(name, _)| name == AUTHORIZATION) {
                    draft.pin(|p| p.authorization = true);
                }
            }
        }
        Ok(())
    }

    fn kind(&self) -> &'static str {
        match self {
            Rule::Host(_) => "host",
            Rule::Auth(_) => "auth",
            Rule::RemoveTypes(_) => "remove_types",
            Rule::RenameIndex(_) => "rename_index",
            Rule::Header { .. } => "header",
        }
    }
}

/// Why a rule could not rewrite a request, before it is attributed to the rule.
#[derive(Debug)]
pub(crate) enum Failure {
    Body(String),
    Content(ContentError),
}

impl From<String> for Failure {
    fn from(reason: String) -> Failure {
        Failure::Body(reason)
    }
}

impl Rules {
    /// Validates and compiles `configs`, reporting the first invalid rule by position and field.
    pub fn new(configs: Vec<RuleConfig>) -> Result<Rules> {
        let rules = configs.into_iter().enumerate().map(|(at, config)| compile(at, config)).collect::<Result<_>>()?;
        Ok(Rules { rules })
    }

    /// No rules: [`Rules::apply`] returns requests unchanged.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Applies every rule in order. The body is decoded (content coding removed) only when a rule has to read it
    /// for this request's API, and re-encoded with the captured coding only if a rule changed it; then
    /// `Content-Length` is set to the new length. A request no rule changes comes back byte-identical.
    pub fn apply(&self, request: Request<Bytes>) -> Result<Request<Bytes>> {
        if self.rules.is_empty() {
            return Ok(request);
        }
        let (parts, body) = request.into_parts();
        let target = Target::new(&parts.uri);
        let mut draft = Draft { parts, target, body, decoded: None, rule: (0, "") };
        for (at, rule) in self.rules.iter().enumerate() {
            let kind = rule.kind();
            draft.rule = (at, kind);
            let outcome = rule.apply(&mut draft);
            outcome.map_err(|failure| match failure {
                Failure::Body(reason) => Error::Body { rule: at, kind, reason },
                Failure::Content(source) => Error::Content { rule: at, kind, source },
            })?;
            if draft.target.changed {
                draft.parts.uri = draft.target.to_uri(&draft.parts.uri).map_err(|reason| Error::Target {
                    rule: at,
                    kind,
                    target: draft.target.path_and_query(),
                    reason,
                })?;
                draft.target.changed = false;
            }
        }
        draft.finish()
    }
}

fn compile(at: usize, config: RuleConfig) -> Result<Rule> {
    let kind = config.kind();
    let invalid = |field: &'static str, reason: String| Error::Config { rule: at, kind, field, reason };
    Ok(match config {
        RuleConfig::Host { value } => {
            if !value.parse::<Authority>().is_ok_and(|a| !a.as_str().contains('@')) {
                return Err(invalid("value", format!("{value:?} is not `host` or `host:port`")));
            }
            let value = HeaderValue::from_str(&value).map_err(|e| invalid("value", e.to_string()))?;
            Rule::Host(value)
        }
        RuleConfig::Auth { action } => Rule::Auth(action),
        RuleConfig::RemoveTypes { types } => {
            if let TypeNames::List(names) = &types {
                if names.is_empty() {
                    return Err(invalid(
                        "types",
                        r#"an empty list removes nothing; use "any" or name the types"#.into(),
                    ));
                }
                if let Some(name) = names.iter().find(|n| !is_type_name(n)) {
                    return Err(invalid("types", format!("{name:?} cannot be a mapping type name")));
                }
            }
            Rule::RemoveTypes(TypeRemoval::new(&types))
        }
        RuleConfig::RenameIndex { names, pattern, replacement } => {
            for (old, new) in &names {
                if let Some(why) = invalid_name(old).or_else(|| invalid_name(new)) {
                    return Err(invalid("names", format!("{old:?} = {new:?}: a name {why}")));
                }
            }
            let pattern = match (pattern, replacement) {
                (Some(pattern), Some(replacement)) => {
                    // Anchored, so `logs` does not also rename `old-logs-1`.
                    let regex = Regex::new(&format!("^(?:{pattern})$"))
                        .map_err(|e| invalid("pattern", format!("{pattern:?} is not a regular expression: {e}")))?;
                    Some((regex, replacement))
                }
                (Some(_), None) => return Err(invalid("replacement", "required with `pattern`".to_string())),
                (None, Some(_)) => return Err(invalid("pattern", "required with `replacement`".to_string())),
                (None, None) if names.is_empty() => {
                    return Err(invalid("names", "give `names`, or `pattern` and `replacement`".to_string()))
                }
                (None, None) => None,
            };
            Rule::RenameIndex(Renamer::new(names, pattern))
        }
        RuleConfig::Header { set, remove } => {
            let name_of = |field: &'static str, name: &str| -> Result<HeaderName> {
                let parsed = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| invalid(field, format!("{name:?} is not a header name")))?;
                match RESERVED_HEADERS.iter().find(|(reserved, _)| parsed == *reserved) {
                    Some((_, hint)) => Err(invalid(field, format!("{name:?} cannot be edited: {hint}"))),
                    None => Ok(parsed),
                }
            };
            let remove: Vec<HeaderName> = remove.iter().map(|name| name_of("remove", name)).collect::<Result<_>>()?;
            let set: Vec<(HeaderName, HeaderValue)> = set
                .0
                .iter()
                .map(|(name, value)| {
                    let mut value = HeaderValue::from_str(value)
                        .map_err(|_| invalid("set", format!("the value of {name:?} has control characters")))?;
                    // Any of them may be a credential; `http` then keeps it out of `Debug` output.
                    value.set_sensitive(true);
                    Ok((name_of("set", name)?, value))
                })
                .collect::<Result<_>>()?;
            if remove.is_empty() && set.is_empty() {
                return Err(invalid("set", "give `set` or `remove`".to_string()));
            }
            Rule::Header { remove, set }
        }
    })
}

/// Mapping type names cannot be empty, start with `_` (except ES 6's `_doc`) or hold path and list separators.
fn is_type_name(name: &str) -> bool {
    name == "_doc" || (!name.is_empty() && !name.starts_with('_') && !name.contains([',', '/', '#', '?', ' ']))
}

/// A request being rewritten: head parts, the target taken apart, and the body, decoded lazily.
pub(crate) struct Draft {
    pub(crate) parts: http::request::Parts,
    pub(crate) target: Target,
    body: Bytes,
    /// The body without content coding, once a rule needed it, and the last rule that changed it.
    decoded: Option<(Vec<u8>, Option<RuleId>)>,
    /// The rule being applied.
    rule: RuleId,
}

/// A rule's position and `type`, for attributing errors.
type RuleId = (usize, &'static str);

impl Draft {
    fn pin(&mut self, set: impl FnOnce(&mut Pinned)) {
        let mut pinned = self.parts.extensions.get::<Pinned>().copied().unwrap_or_default();
        set(&mut pinned);
        self.parts.extensions.insert(pinned);
    }

    fn encoding(&self) -> Option<&str> {
        self.parts.headers.get(CONTENT_ENCODING).and_then(|v| v.to_str().ok())
    }

    /// Runs `edit` on the decoded body; a `Some` result replaces it.
    pub(crate) fn edit_body(
        &mut self,
        edit: impl FnOnce(&[u8]) -> Result<Option<Vec<u8>>, String>,
    ) -> Result<(), Failure> {
        let (bytes, changed) = match self.decoded.take() {
            Some(decoded) => decoded,
            None if self.body.is_empty() => (Vec::new(), None),
            None => {
                let plain = decode_content(&self.body, self.encoding(), MAX_DECODED_BODY).map_err(Failure::Content)?;
                (plain.into_owned(), None)
            }
        };
        self.decoded = Some(match edit(&bytes)? {
            Some(new) => (new, Some(self.rule)),
            None => (bytes, changed),
        });
        Ok(())
    }

    /// Re-encodes a changed body and fixes `Content-Length`.
    fn finish(mut self) -> Result<Request<Bytes>> {
        if let Some((bytes, Some((rule, kind)))) = self.decoded.take() {
            let encoded = encode(&bytes, self.encoding(), &self.body).map_err(|e| Error::Body {
                rule,
                kind,
                reason: format!("re-encoding the rewritten body: {e}"),
            })?;
            self.parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(encoded.len()));
            self.body = Bytes::from(encoded);
        }
        Ok(Request::from_parts(self.parts, self.body))
    }
}

/// Applies the content coding `encoding` again (the captured body tells zlib-wrapped from raw `deflate`).
fn encode(bytes: &[u8], encoding: Option<&str>, captured: &[u8]) -> std::io::Result<Vec<u8>> {
    let encoding = encoding.map(str::trim).unwrap_or_default().to_ascii_lowercase();
    let level = flate2::Compression::default();
    match encoding.as_str() {
        "gzip" | "x-gzip" => {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), level);
            encoder.write_all(bytes)?;
            encoder.finish()
        }
        "deflate" if is_zlib_header(captured) => {
            let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), level);
            encoder.write_all(bytes)?;
            encoder.finish()
        }
        "deflate" => {
            let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), level);
            encoder.write_all(bytes)?;
            encoder.finish()
        }
        // Only codings `decode_content` accepted reach here: identity.
        _ => Ok(bytes.to_vec()),
    }
}
