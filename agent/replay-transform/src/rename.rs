//! `rename_index`: renames indices wherever a request names one — the path's index part (comma lists and
//! `-excluded` names included), the few APIs that name an index further down the path, and the bodies of
//! `_bulk`, `_mget`, `_msearch`, `_reindex` and `_aliases`. Alias names are not index names and stay as they are.

use std::collections::BTreeMap;

use regex::Regex;

use crate::body;
use crate::json::{Json, Object};
use crate::rules::{Draft, Failure};
use crate::target::Api;

/// Characters an index name can never hold; a rename producing one is refused rather than sent.
const FORBIDDEN: &[char] = &['/', '\\', ',', '"', '?', '#', '|', ' '];

/// A compiled `rename_index` rule.
#[derive(Debug, Clone)]
pub(crate) struct Renamer {
    names: BTreeMap<String, String>,
    /// Anchored pattern and its replacement.
    pattern: Option<(Regex, String)>,
}

/// Why a name cannot be an index name, if it cannot.
pub(crate) fn invalid_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("is empty")
    } else if name.chars().any(|c| FORBIDDEN.contains(&c) || c.is_control()) {
        Some(r#"holds one of / \ , " ? # | space or a control character"#)
    } else {
        None
    }
}

impl Renamer {
    pub(crate) fn new(names: BTreeMap<String, String>, pattern: Option<(Regex, String)>) -> Renamer {
        Renamer { names, pattern }
    }

    /// The new name of one index, or `None` when this rule leaves it alone.
    fn rename(&self, name: &str) -> Result<Option<String>, String> {
        let new = match (self.names.get(name), &self.pattern) {
            (Some(new), _) => new.clone(),
            (None, Some((regex, replacement))) if regex.is_match(name) => {
                regex.replace(name, replacement.as_str()).into_owned()
            }
            _ => return Ok(None),
        };
        match invalid_name(&new) {
            Some(why) => Err(format!("renaming index {name:?} gives {new:?}, which {why}")),
            None => Ok((new != name).then_some(new)),
        }
    }

    /// A multi-index expression `a,b,-c`: each name renamed, exclusion marks kept.
    fn rename_expression(&self, expression: &str) -> Result<Option<String>, String> {
        let mut changed = false;
        let mut parts = Vec::new();
        for part in expression.split(',') {
            let (mark, name) = match part.strip_prefix('-') {
                Some(name) if !name.is_empty() => ("-", name),
                _ => ("", part),
            };
            match self.rename(name)? {
                Some(new) => {
                    changed = true;
                    parts.push(format!("{mark}{new}"));
                }
                None => parts.push(part.to_string()),
            }
        }
        Ok(changed.then(|| parts.join(",")))
    }

    /// An `index`-like JSON field: an expression string or an array of them.
    fn rename_json(&self, value: &mut Json) -> Result<bool, String> {
        match value {
            Json::String(s) => Ok(match self.rename_expression(s)? {
                Some(new) => {
                    *s = new;
                    true
                }
                None => false,
            }),
            Json::Array(items) => {
                let mut changed = false;
                for item in items {
                    if let Json::String(_) = item {
                        changed |= self.rename_json(item)?;
                    }
                }
                Ok(changed)
            }
            _ => Ok(false),
        }
    }

    fn rename_fields(&self, object: &mut Object, fields: &[&str]) -> Result<bool, String> {
        let mut changed = false;
        for (key, value) in &mut object.0 {
            if fields.contains(&key.as_str()) {
                changed |= self.rename_json(value)?;
            }
        }
        Ok(changed)
    }

    pub(crate) fn apply(&self, draft: &mut Draft) -> Result<(), Failure> {
        self.rewrite_path(draft)?;
        let method = draft.parts.method.clone();
        match draft.target.api(&method) {
            Api::Bulk => draft.edit_body(|b| body::edit_bulk(b, |params| self.rename_fields(params, &["_index"]))),
            Api::Mget => draft.edit_body(|b| {
                body::edit_json(b, |json| {
                    let docs = json.as_object_mut().and_then(|o| o.get_mut("docs"));
                    let Some(Json::Array(docs)) = docs else { return Ok(false) };
                    let mut changed = false;
                    for doc in docs.iter_mut().filter_map(Json::as_object_mut) {
                        changed |= self.rename_fields(doc, &["_index"])?;
                    }
                    Ok(changed)
                })
            }),
            Api::Msearch => draft.edit_body(|b| body::edit_msearch(b, |header| self.rename_fields(header, &["index"]))),
            Api::Reindex => draft.edit_body(|b| body::edit_json(b, |json| self.rename_reindex(json))),
            Api::Aliases => draft.edit_body(|b| {
                body::edit_json(b, |json| {
                    let actions = json.as_object_mut().and_then(|o| o.get_mut("actions"));
                    let Some(Json::Array(actions)) = actions else { return Ok(false) };
                    let mut changed = false;
                    // Each action is `{"add" | "remove" | "remove_index": {"index" | "indices": ..., "alias": ...}}`.
                    for action in actions.iter_mut().filter_map(Json::as_object_mut) {
                        for (_, params) in &mut action.0 {
                            if let Some(params) = params.as_object_mut() {
                                changed |= self.rename_fields(params, &["index", "indices"])?;
                            }
                        }
                    }
                    Ok(changed)
                })
            }),
            _ => Ok(()),
        }
    }

    /// `dest.index` always; `source.index` unless the source is a remote cluster, whose names are not ours.
    fn rename_reindex(&self, json: &mut Json) -> Result<bool, String> {
        let Some(root) = json.as_object_mut() else { return Ok(false) };
        let mut changed = false;
        for part in ["source", "dest"] {
            if let Some(object) = root.get_mut(part).and_then(Json::as_object_mut) {
                if part == "source" && object.get("remote").is_some() {
                    continue;
                }
                changed |= self.rename_fields(object, &["index"])?;
            }
        }
        Ok(changed)
    }

    fn rewrite_path(&self, draft: &mut Draft) -> Result<(), Failure> {
        let segs = &draft.target.segments;
        let first = segs.first().map(String::as_str);
        let second = segs.get(1).map(String::as_str);
        // Positions of index expressions in the path.
        let positions: &[usize] = match (first, second) {
            (Some(first), second) if !first.starts_with('_') => match second {
                // `/{alias}/_rollover/{new_index}`, `/{source}/_shrink/{target}` and the like.
                Some("_rollover" | "_shrink" | "_split" | "_clone") => &[0, 2],
                _ => &[0],
            },
            (Some("_cat"), Some("indices" | "count" | "shards" | "segments" | "recovery")) => &[2],
            (Some("_cluster"), Some("health")) => &[2],
            (Some("_cluster"), Some("state")) => &[3],
            _ => &[],
        };
        let mut rewritten = draft.target.segments.clone();
        for &at in positions {
            if let Some(segment) = rewritten.get_mut(at) {
                if let Some(new) = self.rename_expression(segment).map_err(Failure::Body)? {
                    *segment = new;
                }
            }
        }
        draft.target.set_segments(rewritten);
        Ok(())
    }
}
