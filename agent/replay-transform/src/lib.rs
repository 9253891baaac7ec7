//! Request rewriting for the replayer: captured request bytes become an `http::Request` ([`parse_request`]),
//! and an ordered list of declarative rules ([`Rules`]) adapts it to the target cluster before it is sent.
//! Pure and synchronous; every input is untrusted and an unusable request is an [`Error`], never a panic.
//!
//! Rules are TOML tables, one `[[transform]]` per rule, applied in file order (each sees the previous one's
//! output):
//!
//! ```toml
//! [[transform]]
//! type = "remove_types"          # ES ≤ 6 → 7+: typed URLs, include_type_name, _bulk/_mget/_msearch/_reindex
//! types = "any"                  # or a list: ["doc", "logs"]; default "any"
//!
//! [[transform]]
//! type = "rename_index"
//! names = { "logs-2019" = "logs-2019-restored" }  # exact names, tried first
//! pattern = "metrics-(.*)"                          # or/and a regex matching the whole name...
//! replacement = "archive-metrics-$1"                # ...and its replacement
//!
//! [[transform]]
//! type = "auth"
//! action = "strip"               # or "keep"
//!
//! [[transform]]
//! type = "host"
//! value = "search.internal:9200"
//!
//! [[transform]]
//! type = "header"
//! set = { "X-Opaque-Id" = "ferry-replay" }
//! remove = ["X-Forwarded-For"]
//! ```
//!
//! Division of labour with the sender: it sets `Host` from the target URL unless a `host` rule pinned one, and
//! applies the target's configured credentials unless the rules pinned `Authorization` (see [`Pinned`]).
//! Replacing credentials is therefore `auth` `strip` plus credentials configured for the target; SigV4 signing
//! happens in the sender after every rule, because it must sign the final bytes.
#![deny(missing_docs)]

mod body;
mod config;
mod error;
mod json;
mod rename;
mod request;
mod rules;
mod target;
mod types;

pub use config::{AuthAction, HeaderSet, RuleConfig, TypeNames};
pub use error::{Error, Result};
pub use request::parse_request;
pub use rules::{Pinned, Rules, MAX_DECODED_BODY};
