//! How documents of multi-type (Elasticsearch ≤ 6) indices map to typeless target indices.

use std::fmt;
use std::str::FromStr;

/// How documents of multi-type (ES ≤ 6) indices map to typeless target indices.
///
/// The metadata migration and the backfill must agree on this, so both ask the same rule for the target index
/// of a (source index, document type) pair.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TypeRule {
    /// Every type goes into one index of the same name; the type mappings are merged into one. The default.
    #[default]
    Merge,
    /// Each type of a multi-type index gets an index of its own, named by `pattern`, where `{index}` and
    /// `{type}` are replaced by the source index and the type.
    Split {
        /// The target index name pattern; [`TypeRule::DEFAULT_SPLIT_PATTERN`] unless configured.
        pattern: String,
    },
}

impl TypeRule {
    /// The split pattern used when none is given.
    pub const DEFAULT_SPLIT_PATTERN: &'static str = "{index}_{type}";

    /// The target index for documents of `doc_type` in the source `index`, which has `type_count` mapping types.
    ///
    /// Only a [`TypeRule::Split`] of an index with more than one type renames; single-type and typeless
    /// indices keep their name under every rule, so a 7.x snapshot migrates unchanged.
    pub fn target_index(&self, index: &str, doc_type: Option<&str>, type_count: usize) -> String {
        match (self, doc_type) {
            (TypeRule::Split { pattern }, Some(doc_type)) if type_count > 1 => {
                pattern.replace("{index}", index).replace("{type}", doc_type)
            }
            _ => index.to_owned(),
        }
    }
}

impl fmt::Display for TypeRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeRule::Merge => f.write_str("merge"),
            TypeRule::Split { pattern } => write!(f, "split:{pattern}"),
        }
    }
}

impl FromStr for TypeRule {
    type Err = String;

    /// Parses `merge`, `split` (the default pattern) or `split:<pattern>`, the forms the CLI accepts.
    fn from_str(s: &str) -> Result<TypeRule, String> {
        match s.split_once(':') {
            None if s == "merge" => Ok(TypeRule::Merge),
            None if s == "split" => Ok(TypeRule::Split { pattern: TypeRule::DEFAULT_SPLIT_PATTERN.to_owned() }),
            Some(("split", pattern)) if pattern.contains("{type}") => {
                Ok(TypeRule::Split { pattern: pattern.to_owned() })
            }
            Some(("split", pattern)) => {
                Err(format!("split pattern {pattern:?} has no {{type}}: every type would go to one index"))
            }
            _ => Err(format!("unknown type rule {s:?}: expected merge, split or split:<pattern>")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_the_index_name() {
        assert_eq!(TypeRule::Merge.target_index("logs", Some("event"), 2), "logs");
    }

    #[test]
    fn split_renames_only_multi_type_indices() {
        let rule: TypeRule = "split".parse().unwrap();
        assert_eq!(rule.target_index("logs", Some("event"), 2), "logs_event");
        assert_eq!(rule.target_index("logs", Some("event"), 1), "logs");
        assert_eq!(rule.target_index("logs", None, 2), "logs");
        let custom: TypeRule = "split:{type}-of-{index}".parse().unwrap();
        assert_eq!(custom.target_index("logs", Some("event"), 3), "event-of-logs");
    }

    #[test]
    fn parse_rejects_unknown_rules_and_typeless_patterns() {
        assert!("mergeall".parse::<TypeRule>().is_err());
        assert!("split:{index}".parse::<TypeRule>().is_err());
        assert_eq!("merge".parse::<TypeRule>(), Ok(TypeRule::Merge));
        assert_eq!(TypeRule::Split { pattern: "{index}_{type}".into() }.to_string(), "split:{index}_{type}");
    }
}
