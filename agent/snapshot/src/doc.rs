//! Typed access to decoded metadata documents. Every accessor names the blob and the path inside the
//! document when a field is missing or has the wrong type, so a surprising repository fails with a message
//! that says exactly what was expected where.

use crate::smile::Value;
use crate::{Error, Result};

/// A value inside a named document, with the path that led to it.
#[derive(Clone, Copy)]
pub(crate) struct Node<'a> {
    pub(crate) file: &'a str,
    pub(crate) value: &'a Value,
    path: &'a str,
}

/// Owned path storage: `Node` borrows its path so walking stays allocation-free until a child is named.
pub(crate) struct Path(String);

impl Path {
    pub(crate) fn text(&self) -> &str {
        &self.0
    }
}

impl<'a> Node<'a> {
    pub(crate) fn root(file: &'a str, value: &'a Value) -> Self {
        Node { file, value, path: "$" }
    }

    pub(crate) fn schema(&self, expected: impl Into<String>) -> Error {
        Error::Schema {
            file: self.file.to_owned(),
            path: self.path.to_owned(),
            expected: expected.into(),
            found: self.value.kind().to_owned(),
        }
    }

    /// The path of child `key`, to be passed to [`Node::at`].
    pub(crate) fn child_path(&self, key: &str) -> Path {
        Path(format!("{}.{key}", self.path))
    }

    /// The path of element `index`.
    pub(crate) fn index_path(&self, index: usize) -> Path {
        Path(format!("{}[{index}]", self.path))
    }

    pub(crate) fn at(&self, value: &'a Value, path: &'a Path) -> Node<'a> {
        Node { file: self.file, value, path: &path.0 }
    }

    /// The entries of an object.
    pub(crate) fn entries(&self) -> Result<&'a [(String, Value)]> {
        match self.value {
            Value::Object(entries) => Ok(entries),
            _ => Err(self.schema("an object")),
        }
    }

    /// The elements of an array.
    pub(crate) fn items(&self) -> Result<&'a [Value]> {
        match self.value {
            Value::Array(items) => Ok(items),
            _ => Err(self.schema("an array")),
        }
    }

    /// A field that may be missing; `null` counts as missing, as Elasticsearch's parsers treat it.
    pub(crate) fn opt(&self, key: &str) -> Result<Option<&'a Value>> {
        let entries = self.entries()?;
        Ok(entries.iter().find(|(k, _)| k == key).map(|(_, v)| v).filter(|v| **v != Value::Null))
    }

    /// A field that must be present.
    pub(crate) fn req(&self, key: &str) -> Result<&'a Value> {
        self.opt(key)?.ok_or_else(|| Error::Schema {
            file: self.file.to_owned(),
            path: format!("{}.{key}", self.path),
            expected: "a value".to_owned(),
            found: "nothing".to_owned(),
        })
    }

    pub(crate) fn str(&self) -> Result<&'a str> {
        match self.value {
            Value::String(s) => Ok(s),
            _ => Err(self.schema("a string")),
        }
    }

    pub(crate) fn i64(&self) -> Result<i64> {
        match self.value {
            Value::Int(i) => Ok(*i),
            _ => Err(self.schema("an integer")),
        }
    }

    pub(crate) fn bool(&self) -> Result<bool> {
        match self.value {
            Value::Bool(b) => Ok(*b),
            _ => Err(self.schema("a boolean")),
        }
    }

    /// A string, or an integer printed in decimal (Elasticsearch ≥ 8.9 writes some versions as ids).
    pub(crate) fn version_text(&self) -> Result<String> {
        match self.value {
            Value::String(s) => Ok(s.clone()),
            Value::Int(i) => Ok(i.to_string()),
            _ => Err(self.schema("a version string or id")),
        }
    }

    /// A non-negative integer that fits `T`.
    pub(crate) fn unsigned<T: TryFrom<i64>>(&self) -> Result<T> {
        let v = self.i64()?;
        T::try_from(v).map_err(|_| Error::Schema {
            file: self.file.to_owned(),
            path: self.path.to_owned(),
            expected: format!("a non-negative integer of at most {} bits", std::mem::size_of::<T>() * 8),
            found: v.to_string(),
        })
    }

    /// The strings of an array of strings.
    pub(crate) fn strings(&self) -> Result<Vec<String>> {
        let items = self.items()?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let path = self.index_path(i);
            out.push(self.at(item, &path).str()?.to_owned());
        }
        Ok(out)
    }
}

/// Runs `f` on the child `key` of `node` when present.
pub(crate) fn with_opt<T>(node: &Node<'_>, key: &str, f: impl FnOnce(Node<'_>) -> Result<T>) -> Result<Option<T>> {
    match node.opt(key)? {
        Some(value) => {
            let path = node.child_path(key);
            f(node.at(value, &path)).map(Some)
        }
        None => Ok(None),
    }
}

/// Runs `f` on the required child `key` of `node`.
pub(crate) fn with_req<T>(node: &Node<'_>, key: &str, f: impl FnOnce(Node<'_>) -> Result<T>) -> Result<T> {
    let value = node.req(key)?;
    let path = node.child_path(key);
    f(node.at(value, &path))
}
