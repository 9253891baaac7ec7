//! What to do with a `_bulk` response: a pure function over the status and body, so every decision is tested
//! on literal Elasticsearch and OpenSearch responses.

use serde::Deserialize;

/// The verdict on a whole `_bulk` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkVerdict {
    /// The request as a whole failed in a way that may pass later (429, 5xx, garbled reply): send it again.
    Retry(String),
    /// The request as a whole was refused and will be again (401, 403, 413, 400 on the body itself).
    Fail(String),
    /// The request was processed; one outcome per item, in request order.
    Items(Vec<ItemOutcome>),
}

/// The outcome of one document in a processed `_bulk` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    /// Indexed (created or updated).
    Indexed,
    /// Refused for now (429, 5xx, a full write queue): send it again.
    Retry {
        /// The item's status.
        status: u16,
        /// The error type and reason.
        reason: String,
    },
    /// Refused for good (mapping or parse failure, other 4xx): dead-letter it.
    Reject {
        /// The item's status.
        status: u16,
        /// The error type, e.g. `mapper_parsing_exception`.
        error_type: String,
        /// The error reason.
        reason: String,
    },
}

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    items: Vec<std::collections::HashMap<String, Item>>,
}

#[derive(Deserialize)]
struct Item {
    status: u16,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// Error types that mean "busy", whatever status they come with.
const RETRYABLE_TYPES: &[&str] = &["es_rejected_execution_exception", "rejected_execution_exception"];

/// Classifies the reply to a `_bulk` request of `expected_items` documents.
pub fn classify(status: u16, body: &[u8], expected_items: usize) -> BulkVerdict {
    if status == 429 || status >= 500 {
        return BulkVerdict::Retry(format!("HTTP {status}: {}", request_error(body)));
    }
    if !(200..300).contains(&status) {
        return BulkVerdict::Fail(format!("HTTP {status}: {}", request_error(body)));
    }
    let parsed: Body = match serde_json::from_slice(body) {
        Ok(parsed) => parsed,
        Err(e) => return BulkVerdict::Retry(format!("HTTP {status} with an unreadable body: {e}")),
    };
    if parsed.items.len() != expected_items {
        return BulkVerdict::Retry(format!(
            "HTTP {status} with {} items for {expected_items} documents",
            parsed.items.len()
        ));
    }
    BulkVerdict::Items(parsed.items.into_iter().map(|item| item_outcome(item.into_values().next())).collect())
}

fn item_outcome(item: Option<Item>) -> ItemOutcome {
    let Some(item) = item else {
        return ItemOutcome::Retry { status: 0, reason: "an empty item in the reply".into() };
    };
    let (error_type, reason) = match &item.error {
        Some(error) => error_parts(error),
        None => (String::new(), String::new()),
    };
    let busy = RETRYABLE_TYPES.contains(&error_type.as_str());
    match item.status {
        200..=299 if item.error.is_none() => ItemOutcome::Indexed,
        429 | 500.. => ItemOutcome::Retry { status: item.status, reason: join(&error_type, &reason) },
        _ if busy => ItemOutcome::Retry { status: item.status, reason: join(&error_type, &reason) },
        status => ItemOutcome::Reject { status, error_type, reason },
    }
}

/// The `type` and `reason` of an error object, with the root cause's reason appended when it says more;
/// a bare string error (Elasticsearch 1.x/2.x style) becomes the reason.
fn error_parts(error: &serde_json::Value) -> (String, String) {
    let text = |v: &serde_json::Value, key: &str| v.get(key).and_then(|s| s.as_str()).unwrap_or_default().to_owned();
    match error {
        serde_json::Value::String(reason) => (String::new(), reason.clone()),
        error => {
            let mut reason = text(error, "reason");
            if let Some(cause) = error.get("caused_by") {
                let (cause_type, cause_reason) = (text(cause, "type"), text(cause, "reason"));
                if !cause_reason.is_empty() && !reason.contains(&cause_reason) {
                    reason = format!("{reason} (caused by {cause_type}: {cause_reason})");
                }
            }
            (text(error, "type"), reason)
        }
    }
}

fn join(error_type: &str, reason: &str) -> String {
    match (error_type.is_empty(), reason.is_empty()) {
        (true, _) => reason.to_owned(),
        (false, true) => error_type.to_owned(),
        (false, false) => format!("{error_type}: {reason}"),
    }
}

/// A short description of a request-level error body (the `error` object, or the first bytes).
fn request_error(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        if let Some(error) = value.get("error") {
            let (error_type, reason) = error_parts(error);
            return join(&error_type, &reason);
        }
    }
    let shown = body.get(..200).unwrap_or(body);
    String::from_utf8_lossy(shown).trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// OpenSearch 2.x: one created, one mapping failure, one 429 from a full write thread pool.
    const MIXED: &str = r#"{"took":30,"errors":true,"items":[
      {"index":{"_index":"a","_id":"1","_version":1,"result":"created","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1,"status":201}},
      {"index":{"_index":"a","_id":"2","status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [n] of type [long] in document with id '2'. Preview of field's value: 'x'","caused_by":{"type":"illegal_argument_exception","reason":"For input string: \"x\""}}}},
      {"index":{"_index":"a","_id":"3","status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation [shard_detail=[a][0][p], shard_coordinating_and_primary_bytes=0, replica_bytes=0]"}}}
    ]}"#;

    #[test]
    fn per_item_outcomes_follow_status_and_error_type() {
        let BulkVerdict::Items(items) = classify(200, MIXED.as_bytes(), 3) else { panic!() };
        assert_eq!(items[0], ItemOutcome::Indexed);
        match &items[1] {
            ItemOutcome::Reject { status: 400, error_type, reason } => {
                assert_eq!(error_type, "mapper_parsing_exception");
                assert!(
                    reason.contains("failed to parse field [n]") && reason.contains("For input string"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&items[2], ItemOutcome::Retry { status: 429, reason } if reason.starts_with("es_rejected")));
    }

    #[test]
    fn elasticsearch_6_rejections_with_status_503_or_other_codes_retry() {
        let body = r#"{"took":1,"errors":true,"items":[{"index":{"_index":"a","_type":"doc","_id":"1","status":503,"error":{"type":"unavailable_shards_exception","reason":"[a][0] primary shard is not active"}}},
          {"create":{"_index":"a","_type":"doc","_id":"2","status":400,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}}]}"#;
        let BulkVerdict::Items(items) = classify(200, body.as_bytes(), 2) else { panic!() };
        assert!(matches!(items[0], ItemOutcome::Retry { status: 503, .. }));
        assert!(matches!(items[1], ItemOutcome::Retry { status: 400, .. }));
    }

    #[test]
    fn whole_request_429_and_5xx_retry_other_errors_fail() {
        let busy = r#"{"error":{"root_cause":[{"type":"rejected_execution_exception","reason":"rejected execution"}],"type":"rejected_execution_exception","reason":"rejected execution"},"status":429}"#;
        assert_eq!(
            classify(429, busy.as_bytes(), 5),
            BulkVerdict::Retry("HTTP 429: rejected_execution_exception: rejected execution".into())
        );
        assert!(
            matches!(classify(502, b"<html>Bad Gateway</html>", 5), BulkVerdict::Retry(r) if r.contains("Bad Gateway"))
        );
        let bad = r#"{"error":{"root_cause":[{"type":"illegal_argument_exception","reason":"The bulk request must be terminated by a newline [\\n]"}],"type":"illegal_argument_exception","reason":"The bulk request must be terminated by a newline [\\n]"},"status":400}"#;
        assert!(
            matches!(classify(400, bad.as_bytes(), 1), BulkVerdict::Fail(r) if r.contains("terminated by a newline"))
        );
        assert!(matches!(classify(401, b"", 1), BulkVerdict::Fail(r) if r == "HTTP 401: "));
    }

    #[test]
    fn success_without_errors_and_a_reply_of_the_wrong_shape() {
        let ok =
            r#"{"took":3,"errors":false,"items":[{"index":{"_index":"a","_id":"1","result":"updated","status":200}}]}"#;
        assert_eq!(classify(200, ok.as_bytes(), 1), BulkVerdict::Items(vec![ItemOutcome::Indexed]));
        assert!(matches!(classify(200, ok.as_bytes(), 2), BulkVerdict::Retry(r) if r.contains("1 items for 2")));
        assert!(matches!(classify(200, b"{\"took\":", 1), BulkVerdict::Retry(r) if r.contains("unreadable")));
    }

    #[test]
    fn string_errors_of_old_clusters_are_kept_as_reasons() {
        let body = r#"{"took":1,"errors":true,"items":[{"index":{"_index":"a","_id":"1","status":400,"error":"MapperParsingException[failed to parse]"}}]}"#;
        let BulkVerdict::Items(items) = classify(200, body.as_bytes(), 1) else { panic!() };
        assert_eq!(
            items[0],
            ItemOutcome::Reject {
                status: 400,
                error_type: String::new(),
                reason: "MapperParsingException[failed to parse]".into()
            }
        );
    }
}
