//! The rules as written in TOML: one `[[transform]]` table per rule, applied in file order.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

/// One transformation rule, selected by its `type` field. Unknown fields are rejected.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleConfig {
    /// Pins the `Host` header. Without this rule the sender sets `Host` from the target URL; with it the value
    /// given here is sent (a virtual host behind a load balancer, say) and the request is marked
    /// [`Pinned::host`](crate::Pinned) so the sender leaves it alone.
    Host {
        /// `name` or `name:port`. Required.
        value: String,
    },
    /// What happens to the captured credentials.
    Auth {
        /// `strip` or `keep`. Required.
        action: AuthAction,
    },
    /// Elasticsearch ≤ 6 → 7+ mapping type removal in URLs, query parameters and bodies.
    RemoveTypes {
        /// Type names to remove: `"any"` (the default) or a list such as `["doc", "logs"]`. `_doc` in a typed
        /// position is always removed.
        #[serde(default)]
        types: TypeNames,
    },
    /// Renames indices wherever a request names one. Give `names`, or `pattern` with `replacement`, or both
    /// (exact names are tried first).
    RenameIndex {
        /// Exact renames, `{ "old" = "new" }`. Default: none.
        #[serde(default)]
        names: BTreeMap<String, String>,
        /// A regular expression that must match the whole index name. Default: none.
        #[serde(default)]
        pattern: Option<String>,
        /// The new name, with `$1` / `${name}` for the pattern's groups (write `${1}x`, not `$1x`, when a letter
        /// or digit follows). Required with `pattern`.
        #[serde(default)]
        replacement: Option<String>,
    },
    /// Sets and removes headers (names case-insensitive). Removals happen before sets.
    Header {
        /// Headers to set, replacing every existing value: `{ "X-Opaque-Id" = "ferry-replay" }`. Default: none.
        #[serde(default)]
        set: HeaderSet,
        /// Headers to remove. Default: none.
        #[serde(default)]
        remove: Vec<String>,
    },
}

impl RuleConfig {
    /// The rule's `type` as written in TOML, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            RuleConfig::Host { .. } => "host",
            RuleConfig::Auth { .. } => "auth",
            RuleConfig::RemoveTypes { .. } => "remove_types",
            RuleConfig::RenameIndex { .. } => "rename_index",
            RuleConfig::Header { .. } => "header",
        }
    }
}

/// The `auth` rule's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthAction {
    /// Remove `Authorization` and the SigV4 headers (`X-Amz-Date`, `X-Amz-Security-Token`,
    /// `X-Amz-Content-Sha256`) so the target client's configured auth — basic or SigV4 — applies. Replacing
    /// credentials is `strip` plus credentials on the target; SigV4 signing happens in the sender after every rule,
    /// because it must sign the final bytes.
    Strip,
    /// Send the captured `Authorization` unchanged and mark the request [`Pinned::authorization`](crate::Pinned)
    /// so the sender does not replace it. Only useful when the capture did not mask it (Ferry's proxy masks
    /// `Authorization` by default) and the target knows the same users; captured SigV4 signatures have expired.
    Keep,
}

/// Header names and the values a `header` rule sets. Values may be credentials (`Authorization`, API keys), so
/// `Debug` shows only the names.
#[derive(Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(transparent)]
pub struct HeaderSet(pub BTreeMap<String, String>);

impl fmt::Debug for HeaderSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.keys().map(|name| (name, "<redacted>"))).finish()
    }
}

/// Which mapping type names `remove_types` removes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TypeNames {
    /// Every type name (written `"any"`).
    #[default]
    Any,
    /// Only these names.
    List(Vec<String>),
}

impl Serialize for TypeNames {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            TypeNames::Any => serializer.serialize_str("any"),
            TypeNames::List(names) => names.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for TypeNames {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TypeNames, D::Error> {
        struct TypeNamesVisitor;

        impl<'de> Visitor<'de> for TypeNamesVisitor {
            type Value = TypeNames;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#""any" or a list of type names"#)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<TypeNames, E> {
                match v {
                    "any" => Ok(TypeNames::Any),
                    other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
                }
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TypeNames, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = seq.next_element::<String>()? {
                    names.push(name);
                }
                Ok(TypeNames::List(names))
            }
        }

        deserializer.deserialize_any(TypeNamesVisitor)
    }
}
