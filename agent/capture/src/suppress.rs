//! Suppression rules: which requests are forwarded but left out of the capture.

use ferry_traffic::http1::Head;
use regex::Regex;

use crate::config::SuppressRule;

/// A compiled [`SuppressRule`].
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    method: Option<String>,
    path: Option<Regex>,
    header: Option<(String, Option<Regex>)>,
}

impl Rule {
    pub(crate) fn compile(rule: &SuppressRule) -> Result<Rule, String> {
        let regex = |what: &str, r: &str| Regex::new(r).map_err(|e| format!("{what}: {e}"));
        if rule.method.is_none() && rule.path.is_none() && rule.header.is_none() {
            return Err("a rule needs at least one of method, path, header".to_string());
        }
        if rule.header_value.is_some() && rule.header.is_none() {
            return Err("header_value needs header".to_string());
        }
        Ok(Rule {
            method: rule.method.clone(),
            path: rule.path.as_deref().map(|p| regex("path", p)).transpose()?,
            header: match &rule.header {
                Some(h) => {
                    Some((h.clone(), rule.header_value.as_deref().map(|v| regex("header_value", v)).transpose()?))
                }
                None => None,
            },
        })
    }

    pub(crate) fn matches(&self, head: &Head) -> bool {
        self.method.as_ref().is_none_or(|m| m.eq_ignore_ascii_case(&head.method))
            && self.path.as_ref().is_none_or(|p| p.is_match(&head.target))
            && self.header.as_ref().is_none_or(|(name, value)| {
                head.headers
                    .iter()
                    .any(|(n, v)| n.eq_ignore_ascii_case(name) && value.as_ref().is_none_or(|r| r.is_match(v)))
            })
    }
}

/// The compiled rule set.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rules(Vec<Rule>);

impl Rules {
    pub(crate) fn compile(rules: &[SuppressRule]) -> Result<Rules, String> {
        rules.iter().map(Rule::compile).collect::<Result<Vec<_>, _>>().map(Rules)
    }

    pub(crate) fn suppressed(&self, head: &Head) -> bool {
        self.0.iter().any(|r| r.matches(head))
    }
}

/// Masks the values of the named headers in a raw request head, keeping every byte offset unchanged.
pub(crate) fn redact(head_bytes: &mut [u8], names: &[String]) {
    let mut at = 0;
    while let Some(line_len) = head_bytes.get(at..).and_then(|rest| rest.windows(2).position(|w| w == b"\r\n")) {
        let end = at + line_len;
        if let Some(line) = head_bytes.get_mut(at..end) {
            if let Some(colon) = line.iter().position(|&b| b == b':') {
                let (name, value) = line.split_at_mut(colon);
                if names.iter().any(|n| n.as_bytes().eq_ignore_ascii_case(name)) {
                    for b in value.iter_mut().skip(1).filter(|b| !b.is_ascii_whitespace()) {
                        *b = b'*';
                    }
                }
            }
        }
        at = end + 2;
    }
}
