//! Metadata migration: templates (legacy, composable, component), indices (settings and mappings) and aliases
//! are read from a snapshot or a live cluster ([`SourceMetadata`]), transformed for the target's version by pure
//! functions that each record a note ([`transform`]), gathered into a [`Plan`] of [`Item`]s, then evaluated
//! (printed) or applied against the target in dependency order ([`apply`]).
#![deny(missing_docs)]

mod apply;
mod error;
mod plan;
mod source;
mod target;
pub mod transform;
mod type_rule;

pub use apply::{apply, mark_existing, Applied, ApplyReport};
pub use error::{Error, Result};
pub use plan::{Action, Allowlist, Item, Kind, Options, Plan};
pub use source::{SourceIndex, SourceMetadata};
pub use target::Target;
pub use transform::Log;
pub use type_rule::TypeRule;
