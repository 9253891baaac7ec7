//! `_bulk` bodies: NDJSON action and source lines for a run of documents, bounded by bytes, with enough
//! bookkeeping to re-send a subset and to dead-letter a rejected document.

use base64::Engine as _;
use bytes::Bytes;
use ferry_documents::source::{is_json, push_single_line_json};
use ferry_documents::Document;
use serde::Serialize;

use crate::checkpoint::Position;

/// One document inside a batch's body: its byte range (action line and source line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemSpan {
    /// Where the action line starts.
    pub start: usize,
    /// Where the next item starts (just past the source line's newline).
    pub end: usize,
}

/// A document that cannot go to the target as is, or that the target rejected, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    /// The target index.
    pub index: String,
    /// The document id.
    pub id: String,
    /// The custom routing, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing: Option<String>,
    /// The item status the target returned; absent when the document was never sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The error type (`mapper_parsing_exception`, or `unsupported_source` for a source Ferry cannot send).
    pub error_type: String,
    /// The error reason.
    pub reason: String,
    /// The source, when it is JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<serde_json::Value>,
    /// The exact source bytes in base64, when they are not JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_base64: Option<String>,
}

/// A run of consecutive documents of a unit, ready to send, and the positions it covers.
#[derive(Debug)]
pub struct Batch {
    /// The batch's number within this run of the unit, from 0, in reading order.
    pub seq: u64,
    /// Every document from here …
    pub start: Position,
    /// … up to here (exclusive) is in this batch, dead-lettered in it, or has nothing to index.
    pub end: Position,
    /// The NDJSON body.
    pub body: Bytes,
    /// Each document's span in `body`, in order.
    pub items: Vec<ItemSpan>,
    /// Documents that could not be put into the body.
    pub unsendable: Vec<DeadLetter>,
    /// This is the unit's last batch.
    pub last: bool,
}

impl Batch {
    /// The body holding only `items` (a subset of `self.items`, in order), to re-send after partial failure.
    pub fn body_of(&self, items: &[ItemSpan]) -> Bytes {
        let len = items.iter().map(|i| i.end.saturating_sub(i.start)).sum();
        let mut body = Vec::with_capacity(len);
        for item in items {
            body.extend_from_slice(self.body.get(item.start..item.end).unwrap_or_default());
        }
        body.into()
    }

    /// The dead-letter record for `item`, rejected by the target with `status`, `error_type` and `reason`.
    pub fn dead_letter(&self, item: ItemSpan, status: u16, error_type: String, reason: String) -> DeadLetter {
        let bytes = self.body.get(item.start..item.end).unwrap_or_default();
        let (action, source) = match bytes.iter().position(|&b| b == b'\n') {
            Some(newline) => (&bytes[..newline], bytes.get(newline + 1..).unwrap_or_default()),
            None => (bytes, &[][..]),
        };
        let meta = serde_json::from_slice::<serde_json::Value>(action).ok();
        let field = |name: &str| meta.as_ref().and_then(|m| m.get("index")?.get(name)?.as_str().map(str::to_owned));
        DeadLetter {
            index: field("_index").unwrap_or_default(),
            id: field("_id").unwrap_or_default(),
            routing: field("routing"),
            status: Some(status),
            error_type,
            reason,
            source: serde_json::from_slice(source).ok(),
            source_base64: None,
        }
    }
}

#[derive(Serialize)]
struct Action<'a> {
    index: ActionMeta<'a>,
}

#[derive(Serialize)]
struct ActionMeta<'a> {
    _index: &'a str,
    _id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    routing: Option<&'a str>,
}

/// Builds batches from documents in reading order.
#[derive(Debug)]
pub struct BatchBuilder {
    max_bytes: usize,
    seq: u64,
    start: Position,
    end: Position,
    body: Vec<u8>,
    items: Vec<ItemSpan>,
    unsendable: Vec<DeadLetter>,
    scratch: Vec<u8>,
}

/// Space for an action line's fixed part (`{"index":{"_index":"","_id":"","routing":""}}` and newlines).
const ACTION_OVERHEAD: usize = 64;

impl BatchBuilder {
    /// A builder whose bodies stay within `max_bytes` (a single larger document gets a batch of its own),
    /// starting at `start`.
    pub fn new(max_bytes: usize, start: Position) -> BatchBuilder {
        BatchBuilder {
            max_bytes,
            seq: 0,
            start,
            end: start,
            body: Vec::new(),
            items: Vec::new(),
            unsendable: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Adds the document at `position` bound for `index`. Returns the finished batch when the document did not
    /// fit into the current one; the document then starts the next batch.
    pub fn push(&mut self, position: Position, index: &str, doc: &Document<'_>) -> Option<Batch> {
        // The scratch buffer is moved out so the converted source can be borrowed while the body grows.
        let mut scratch = std::mem::take(&mut self.scratch);
        let source: &[u8] = if is_json(doc.source) {
            doc.source
        } else if let Some(json) = smile_as_json(doc.source, &mut scratch) {
            json
        } else {
            self.unsendable.push(unsendable(index, doc));
            self.end = position.successor();
            self.scratch = scratch;
            return None;
        };
        let escape_room = |s: &str| s.len().saturating_mul(6);
        let needed = source
            .len()
            .saturating_add(ACTION_OVERHEAD)
            .saturating_add(escape_room(index))
            .saturating_add(escape_room(doc.id))
            .saturating_add(doc.routing.map_or(0, escape_room));
        let full = (!self.items.is_empty() && self.body.len().saturating_add(needed) > self.max_bytes)
            .then(|| self.take(position, false));
        let start = self.body.len();
        let action = Action { index: ActionMeta { _index: index, _id: doc.id, routing: doc.routing } };
        // Serializing plain strings into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.body, &action);
        self.body.push(b'\n');
        push_single_line_json(&mut self.body, source);
        self.body.push(b'\n');
        self.items.push(ItemSpan { start, end: self.body.len() });
        self.end = position.successor();
        self.scratch = scratch;
        full
    }

    /// Whether the current batch holds anything to send or dead-letter.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.unsendable.is_empty()
    }

    /// Finishes the current batch at `end` (exclusive); the next batch starts there.
    pub fn take(&mut self, end: Position, last: bool) -> Batch {
        let end = end.max(self.end);
        let batch = Batch {
            seq: self.seq,
            start: self.start,
            end,
            body: std::mem::take(&mut self.body).into(),
            items: std::mem::take(&mut self.items),
            unsendable: std::mem::take(&mut self.unsendable),
            last,
        };
        self.seq += 1;
        self.start = end;
        self.end = end;
        batch
    }
}

/// Converts a SMILE `_source` (what clients sending `application/smile` leave in the index) to JSON text in
/// `scratch`; `None` when the bytes are not SMILE either.
fn smile_as_json<'s>(source: &[u8], scratch: &'s mut Vec<u8>) -> Option<&'s [u8]> {
    if !ferry_snapshot::smile::has_header(source) {
        return None;
    }
    let value = ferry_snapshot::smile::decode("_source", source, 0).ok()?;
    scratch.clear();
    serde_json::to_writer(&mut *scratch, &value.to_json()).ok()?;
    Some(scratch)
}

fn unsendable(index: &str, doc: &Document<'_>) -> DeadLetter {
    let head: String = doc.source.iter().take(8).map(|b| format!("{b:02x}")).collect();
    DeadLetter {
        index: index.to_owned(),
        id: doc.id.to_owned(),
        routing: doc.routing.map(str::to_owned),
        status: None,
        error_type: "unsupported_source".into(),
        reason: format!(
            "_source ({} bytes, starting {head}) is neither JSON nor SMILE (CBOR or YAML sources, or damaged bytes)",
            doc.source.len()
        ),
        source: None,
        source_base64: Some(base64::engine::general_purpose::STANDARD.encode(doc.source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc<'a>(id: &'a str, routing: Option<&'a str>, source: &'a [u8]) -> Document<'a> {
        Document { id, doc_type: None, routing, source, doc: 0 }
    }

    fn pos(segment: u32, doc: u32) -> Position {
        Position { segment, doc }
    }

    #[test]
    fn body_is_action_then_single_line_source_with_id_and_routing_escaped() {
        let mut b = BatchBuilder::new(1 << 20, pos(0, 0));
        assert!(b.push(pos(0, 0), "idx", &doc("a\"1", Some("r"), b"{\"x\":\n 1}")).is_none());
        assert!(b.push(pos(0, 2), "idx", &doc("2", None, b"{\"y\":2}")).is_none());
        let batch = b.take(pos(1, 0), true);
        assert_eq!(
            String::from_utf8(batch.body.to_vec()).unwrap(),
            "{\"index\":{\"_index\":\"idx\",\"_id\":\"a\\\"1\",\"routing\":\"r\"}}\n{\"x\":1}\n\
             {\"index\":{\"_index\":\"idx\",\"_id\":\"2\"}}\n{\"y\":2}\n"
        );
        assert_eq!((batch.start, batch.end, batch.seq, batch.last), (pos(0, 0), pos(1, 0), 0, true));
        assert_eq!(
            &batch.body_of(&batch.items[1..])[..],
            b"{\"index\":{\"_index\":\"idx\",\"_id\":\"2\"}}\n{\"y\":2}\n"
        );
        let dl = batch.dead_letter(batch.items[0], 400, "mapper_parsing_exception".into(), "bad".into());
        assert_eq!((dl.id.as_str(), dl.routing.as_deref(), dl.index.as_str()), ("a\"1", Some("r"), "idx"));
        assert_eq!(dl.source, Some(serde_json::json!({"x": 1})));
    }

    #[test]
    fn batches_split_by_bytes_and_cover_contiguous_positions() {
        let source = vec![b'1'; 100];
        let mut b = BatchBuilder::new(400, pos(0, 5));
        let mut batches = Vec::new();
        for d in 5..20 {
            batches.extend(b.push(pos(0, d), "i", &doc("x", None, &source)));
        }
        batches.push(b.take(pos(2, 0), true));
        assert!(batches.len() > 3);
        for pair in batches.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
            assert_eq!(pair[0].seq + 1, pair[1].seq);
        }
        assert_eq!(batches[0].start, pos(0, 5));
        assert!(batches.iter().all(|b| b.body.len() <= 400));
        assert_eq!(batches.iter().map(|b| b.items.len()).sum::<usize>(), 15);
    }

    #[test]
    fn a_document_larger_than_the_bound_gets_a_batch_of_its_own() {
        let big = vec![b'7'; 1000];
        let mut b = BatchBuilder::new(100, pos(0, 0));
        assert!(b.push(pos(0, 0), "i", &doc("a", None, b"1")).is_none());
        let first = b.push(pos(0, 1), "i", &doc("b", None, &big)).expect("the small doc's batch is closed");
        assert_eq!((first.items.len(), first.end), (1, pos(0, 1)));
        let second = b.push(pos(0, 2), "i", &doc("c", None, b"2")).expect("the big doc's batch is closed");
        assert_eq!(second.items.len(), 1);
        assert!(second.body.len() > 1000);
    }

    #[test]
    fn smile_sources_become_json_and_unknown_encodings_are_dead_lettered() {
        // {"a":1} in SMILE: header, start object, short key "a", small int 1, end object.
        let smile = b":)\n\x00\xfa\x80a\xc2\xfb";
        let cbor = b"\xa1\x61a\x01";
        let mut b = BatchBuilder::new(1 << 20, pos(0, 0));
        b.push(pos(0, 0), "i", &doc("s", None, smile));
        b.push(pos(0, 1), "i", &doc("c", Some("r"), cbor));
        let batch = b.take(pos(0, 2), true);
        assert_eq!(&batch.body[..], b"{\"index\":{\"_index\":\"i\",\"_id\":\"s\"}}\n{\"a\":1}\n");
        assert_eq!(batch.unsendable.len(), 1);
        let dl = &batch.unsendable[0];
        assert_eq!((dl.id.as_str(), dl.error_type.as_str(), dl.status), ("c", "unsupported_source", None));
        assert_eq!(dl.source_base64.as_deref(), Some("oWFhAQ=="));
        assert!(dl.reason.contains("a1616101"), "{}", dl.reason);
    }
}
