//! JSON-pointer patterns with wildcards, for the paths users tell the comparer to ignore.

/// One parsed ignore pattern: RFC 6901 pointer segments where `*` alone matches one segment, `**` any number of
/// segments (including none), and a `*` inside a segment any run of characters (`*_at` matches `created_at`).
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    segments: Vec<Segment>,
}

#[derive(Debug, Clone)]
enum Segment {
    Literal(String),
    Any,
    AnyDepth,
    Glob(regex::Regex),
}

impl Pattern {
    /// Parses a pattern; the error says what is wrong with it, quoting it.
    pub(crate) fn parse(text: &str) -> Result<Pattern, String> {
        let invalid = |why: &str| format!("ignore pattern {text:?}: {why}");
        if text.is_empty() {
            return Err(invalid("empty (the whole body would be ignored; set `body = false` on the endpoint instead)"));
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Err(invalid("must start with `/` (a JSON pointer such as /hits/hits/*/_source/updated_at)"));
        };
        let mut segments = Vec::new();
        for raw in rest.split('/') {
            let segment = unescape(raw).ok_or_else(|| invalid("`~` must be followed by 0 or 1 (RFC 6901)"))?;
            segments.push(match segment.as_str() {
                "*" => Segment::Any,
                "**" => Segment::AnyDepth,
                s if s.contains('*') => {
                    let body: Vec<String> = s.split('*').map(regex::escape).collect();
                    let regex = regex::Regex::new(&format!("^{}$", body.join(".*")))
                        .map_err(|e| invalid(&format!("wildcard segment {s:?}: {e}")))?;
                    Segment::Glob(regex)
                }
                _ => Segment::Literal(segment),
            });
        }
        if segments.iter().filter(|s| matches!(s, Segment::AnyDepth)).count() > 2 {
            return Err(invalid("at most two `**` segments"));
        }
        Ok(Pattern { segments })
    }

    /// Whether `path` (unescaped segments from the root) matches the whole pattern.
    pub(crate) fn matches(&self, path: &[String]) -> bool {
        matches(&self.segments, path)
    }
}

fn matches(pattern: &[Segment], path: &[String]) -> bool {
    match (pattern.split_first(), path.split_first()) {
        (None, None) => true,
        (Some((Segment::AnyDepth, rest)), _) => {
            (0..=path.len()).any(|skip| path.get(skip..).is_some_and(|tail| matches(rest, tail)))
        }
        (Some((segment, rest)), Some((head, tail))) => {
            let hit = match segment {
                Segment::Literal(literal) => literal == head,
                Segment::Any => true,
                Segment::Glob(regex) => regex.is_match(head),
                Segment::AnyDepth => false,
            };
            hit && matches(rest, tail)
        }
        _ => false,
    }
}

fn unescape(segment: &str) -> Option<String> {
    let mut out = String::with_capacity(segment.len());
    let mut chars = segment.chars();
    while let Some(c) = chars.next() {
        match c {
            '~' => match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            },
            c => out.push(c),
        }
    }
    Some(out)
}

/// Writes path segments as an RFC 6901 JSON pointer (`""` for the root).
pub(crate) fn pointer(path: &[String]) -> String {
    let mut out = String::new();
    for segment in path {
        out.push('/');
        out.push_str(&segment.replace('~', "~0").replace('/', "~1"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn wildcards_match_one_or_many_segments() {
        let p = Pattern::parse("/hits/hits/*/_source/updated_at").unwrap();
        assert!(p.matches(&path(&["hits", "hits", "3", "_source", "updated_at"])));
        assert!(!p.matches(&path(&["hits", "hits", "_source", "updated_at"])));
        let p = Pattern::parse("/**/meta/*_at").unwrap();
        assert!(p.matches(&path(&["meta", "created_at"])));
        assert!(p.matches(&path(&["a", "b", "meta", "updated_at"])));
        assert!(!p.matches(&path(&["a", "meta", "at_x"])));
        let p = Pattern::parse("/a~1b/c~0d").unwrap();
        assert!(p.matches(&path(&["a/b", "c~d"])));
        assert_eq!(pointer(&path(&["a/b", "c~d", "0"])), "/a~1b/c~0d/0");
        assert_eq!(pointer(&[]), "");
    }

    #[test]
    fn bad_patterns_are_refused_with_the_reason() {
        for bad in ["", "took", "/a/~2", "/**/**/**"] {
            let err = Pattern::parse(bad).unwrap_err();
            assert!(err.contains("ignore pattern"), "{bad}: {err}");
        }
    }
}
