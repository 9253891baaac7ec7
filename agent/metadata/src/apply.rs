//! Talking to the target: which planned items already exist there, and creating them in dependency order.

use bytes::Bytes;
use ferry_client::Client;
use http::Method;
use serde::Serialize;

use crate::{Action, Item, Kind, Plan, Result};

/// The outcome of applying one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// What it is.
    pub kind: Kind,
    /// Its name on the target.
    pub name: String,
    /// `created`, `overwritten`, `exists`, `skipped` or `failed`.
    pub outcome: &'static str,
    /// For failures: the HTTP status and the target's error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What [`apply`] did, item by item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    /// One entry per plan item, in the order applied.
    pub items: Vec<Applied>,
}

impl ApplyReport {
    /// How many items failed.
    pub fn failures(&self) -> usize {
        self.items.iter().filter(|item| item.outcome == "failed").count()
    }

    /// How many items had the given outcome.
    pub fn count(&self, outcome: &str) -> usize {
        self.items.iter().filter(|item| item.outcome == outcome).count()
    }
}

/// The path that reads (GET/HEAD) or creates (PUT/POST) an item.
fn item_path(kind: Kind, name: &str) -> String {
    let name = encode(name);
    match kind {
        Kind::ComponentTemplate => format!("/_component_template/{name}"),
        Kind::IndexTemplate => format!("/_index_template/{name}"),
        Kind::LegacyTemplate => format!("/_template/{name}"),
        Kind::Index => format!("/{name}"),
        Kind::Alias => format!("/_alias/{name}"),
    }
}

/// Percent-encodes a name for a path segment; names come from the source and may hold any character.
fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Asks the target which planned items already exist and sets their action to [`Action::Exists`], or
/// [`Action::Overwrite`] when `overwrite` is set. Skipped items are not looked up.
pub async fn mark_existing(plan: &mut Plan, client: &Client, overwrite: bool) -> Result<()> {
    for item in plan.items.iter_mut().filter(|item| !matches!(item.action, Action::Skip(_))) {
        let path = item_path(item.kind, &item.name);
        let response = client.request(Method::HEAD, &path, None).await?;
        let exists = match response.status {
            200 => true,
            404 => false,
            status => {
                return Err(crate::Error::UnexpectedResponse {
                    request: format!("HEAD {path}"),
                    detail: format!("HTTP {status}"),
                })
            }
        };
        item.action = match (exists, overwrite) {
            (false, _) => Action::Create,
            (true, false) => Action::Exists,
            (true, true) => Action::Overwrite,
        };
    }
    Ok(())
}

/// Creates the plan's items on the target in plan order (component templates, index templates, legacy
/// templates, indices, aliases). A failed item is recorded and the rest still attempted; only a transport
/// failure (the target unreachable) stops the run.
pub async fn apply(plan: &Plan, client: &Client) -> Result<ApplyReport> {
    let mut report = ApplyReport::default();
    for item in &plan.items {
        let (outcome, error) = match &item.action {
            Action::Skip(_) => ("skipped", None),
            Action::Exists => ("exists", None),
            Action::Create => create(item, client, "created").await?,
            Action::Overwrite => {
                if item.kind == Kind::Index {
                    let response = client.request(Method::DELETE, &item_path(Kind::Index, &item.name), None).await?;
                    if !response.is_success() && response.status != 404 {
                        report.items.push(failed(item, response.status, &response.body));
                        continue;
                    }
                }
                create(item, client, "overwritten").await?
            }
        };
        tracing::debug!(kind = %item.kind, name = %item.name, outcome, "metadata item applied");
        report.items.push(Applied { kind: item.kind, name: item.name.clone(), outcome, error });
    }
    Ok(report)
}

async fn create(item: &Item, client: &Client, outcome: &'static str) -> Result<(&'static str, Option<String>)> {
    let body = Bytes::from(item.body.to_string());
    let response = match item.kind {
        Kind::Alias => client.request(Method::POST, "/_aliases", Some(body)).await?,
        kind => client.request(Method::PUT, &item_path(kind, &item.name), Some(body)).await?,
    };
    if response.is_success() {
        Ok((outcome, None))
    } else {
        let applied = failed(item, response.status, &response.body);
        Ok(("failed", applied.error))
    }
}

fn failed(item: &Item, status: u16, body: &[u8]) -> Applied {
    // The target's error reason is the useful part; fall back to the raw body.
    let reason = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|json| json.pointer("/error/reason").and_then(|r| r.as_str()).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(300).collect());
    Applied {
        kind: item.kind,
        name: item.name.clone(),
        outcome: "failed",
        error: Some(format!("HTTP {status}: {reason}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_encoded_into_paths() {
        assert_eq!(item_path(Kind::Index, "posts_2024"), "/posts_2024");
        assert_eq!(item_path(Kind::LegacyTemplate, "a b/c"), "/_template/a%20b%2Fc");
        assert_eq!(item_path(Kind::Alias, "{index}-alias"), "/_alias/%7Bindex%7D-alias");
    }

    #[test]
    fn target_errors_are_reduced_to_their_reason() {
        let item = Item {
            kind: Kind::Index,
            name: "x".into(),
            source: None,
            body: serde_json::Value::Null,
            log: Default::default(),
            action: Action::Create,
        };
        let body = br#"{"error":{"root_cause":[],"type":"resource_already_exists_exception","reason":"index [x/abc] already exists"},"status":400}"#;
        assert_eq!(failed(&item, 400, body).error.as_deref(), Some("HTTP 400: index [x/abc] already exists"));
        assert_eq!(failed(&item, 502, b"bad gateway").error.as_deref(), Some("HTTP 502: bad gateway"));
    }
}
