use ferry_lucene::stored::{StoredFieldVisitor, StoredValue};
use ferry_lucene::{Commit, Directory, SegmentReader};

use crate::uid::{decode_id, split_uid};

/// Errors turning stored fields into documents.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Lucene files could not be read.
    #[error(transparent)]
    Lucene(#[from] ferry_lucene::Error),
    /// A stored identity field has the wrong type or an undecodable value.
    #[error("segment {segment}, doc {doc}: {field}: expected {expected}")]
    BadField {
        /// The segment name.
        segment: String,
        /// The Lucene doc id within the segment.
        doc: u32,
        /// The field (`_id`, `_uid`, `_routing`, `_source`).
        field: &'static str,
        /// What the field should have held.
        expected: String,
    },
    /// The consumer of the documents failed (for example, writing output).
    #[error(transparent)]
    Consumer(Box<dyn std::error::Error + Send + Sync>),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One live Elasticsearch document, borrowed from the reader's buffers for the duration of a callback.
#[derive(Debug, Clone, Copy)]
pub struct Document<'a> {
    /// The document id, as the client sent it.
    pub id: &'a str,
    /// The mapping type, when the segment records one (`_uid`, indices created by 5.x).
    pub doc_type: Option<&'a str>,
    /// Custom routing, when the document was indexed with one.
    pub routing: Option<&'a str>,
    /// The `_source` bytes exactly as stored.
    pub source: &'a [u8],
    /// The Lucene doc id within its segment.
    pub doc: u32,
}

/// How a segment records document identity; Elasticsearch switched from `_uid` to `_id` for indices created
/// by 6.0, and a segment's field infos say which one it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityScheme {
    /// `_id` holds Uid-encoded bytes (indices created by 6.0 and later).
    Id,
    /// `_uid` holds `type#id` (indices created by 5.x).
    Uid,
    /// Neither field exists: the segment holds no re-indexable documents.
    None,
}

/// What reading a segment found besides the documents themselves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Live documents handed to the callback.
    pub documents: u64,
    /// Bytes of `_source` handed to the callback.
    pub source_bytes: u64,
    /// Live stored documents without an id: nested children and other internal documents, which are
    /// re-created from their parent's `_source` and must not be indexed on their own.
    pub without_id: u64,
    /// Live documents with an id but no `_source` (the index disabled or filtered `_source`): these cannot
    /// be re-indexed from the snapshot and are reported by callers.
    pub without_source: u64,
}

#[derive(Default, Clone, Copy)]
struct FieldNumbers {
    id: Option<u32>,
    uid: Option<u32>,
    routing: Option<u32>,
    source: Option<u32>,
}

struct Collector<'s, F> {
    segment: &'s str,
    fields: FieldNumbers,
    doc: u32,
    id: String,
    doc_type: String,
    has_id: bool,
    routing: Option<String>,
    source: Vec<u8>,
    has_source: bool,
    stats: ReadStats,
    on_document: F,
    failure: Option<Error>,
}

impl<F> Collector<'_, F>
where
    F: FnMut(&Document<'_>) -> Result<()>,
{
    fn bad(&mut self, field: &'static str, expected: impl Into<String>) -> ferry_lucene::Error {
        let (segment, doc) = (self.segment.to_owned(), self.doc);
        self.failure = Some(Error::BadField { segment, doc, field, expected: expected.into() });
        ferry_lucene::Error::Aborted
    }
}

impl<F> StoredFieldVisitor for Collector<'_, F>
where
    F: FnMut(&Document<'_>) -> Result<()>,
{
    fn start_document(&mut self, doc: u32) -> ferry_lucene::Result<()> {
        self.doc = doc;
        self.has_id = false;
        self.has_source = false;
        self.routing = None;
        self.id.clear();
        self.doc_type.clear();
        self.source.clear();
        Ok(())
    }

    fn field(&mut self, field_number: u32, value: StoredValue<'_>) -> ferry_lucene::Result<()> {
        let f = self.fields;
        if Some(field_number) == f.source {
            match value {
                StoredValue::Bytes(bytes) => {
                    self.source.extend_from_slice(bytes);
                    self.has_source = true;
                }
                _ => return Err(self.bad("_source", "binary")),
            }
        } else if Some(field_number) == f.id {
            match value {
                StoredValue::Bytes(bytes) => match decode_id(bytes) {
                    Ok(id) => {
                        self.id = id;
                        self.has_id = true;
                    }
                    Err(why) => return Err(self.bad("_id", why)),
                },
                // Indices created before 6.0 but written by a 6.x node may store `_id` as a string.
                StoredValue::Str(id) => {
                    self.id.push_str(id);
                    self.has_id = true;
                }
                _ => return Err(self.bad("_id", "binary or string")),
            }
        } else if Some(field_number) == f.uid {
            match value {
                StoredValue::Str(uid) => match split_uid(uid) {
                    Some((ty, id)) => {
                        self.doc_type.push_str(ty);
                        self.id.push_str(id);
                        self.has_id = true;
                    }
                    None => return Err(self.bad("_uid", format!("type#id, found {uid:?}"))),
                },
                _ => return Err(self.bad("_uid", "a string")),
            }
        } else if Some(field_number) == f.routing {
            match value {
                StoredValue::Str(routing) => self.routing = Some(routing.to_owned()),
                _ => return Err(self.bad("_routing", "a string")),
            }
        }
        Ok(())
    }

    fn end_document(&mut self, doc: u32) -> ferry_lucene::Result<()> {
        if !self.has_id {
            self.stats.without_id += 1;
            return Ok(());
        }
        if !self.has_source {
            self.stats.without_source += 1;
            return Ok(());
        }
        let document = Document {
            id: &self.id,
            doc_type: (!self.doc_type.is_empty()).then_some(self.doc_type.as_str()),
            routing: self.routing.as_deref(),
            source: &self.source,
            doc,
        };
        if let Err(e) = (self.on_document)(&document) {
            self.failure = Some(e);
            return Err(ferry_lucene::Error::Aborted);
        }
        self.stats.documents += 1;
        self.stats.source_bytes += self.source.len() as u64;
        Ok(())
    }
}

/// Which identity fields a segment has.
pub fn identity_scheme(segment: &SegmentReader) -> IdentityScheme {
    let infos = segment.field_infos();
    if infos.by_name("_id").is_some() {
        IdentityScheme::Id
    } else if infos.by_name("_uid").is_some() {
        IdentityScheme::Uid
    } else {
        IdentityScheme::None
    }
}

/// Calls `on_document` for every live document of `segment` that has an id and a `_source`, in doc order,
/// and counts the live stored documents it passes over. An error from `on_document` stops the read and is
/// returned as is.
pub fn read_segment<F>(segment: &SegmentReader, on_document: F) -> Result<ReadStats>
where
    F: FnMut(&Document<'_>) -> Result<()>,
{
    let infos = segment.field_infos();
    let number = |name: &str| infos.by_name(name).map(|f| f.number);
    let fields =
        FieldNumbers { id: number("_id"), uid: number("_uid"), routing: number("_routing"), source: number("_source") };
    let mut collector = Collector {
        segment: segment.name(),
        fields,
        doc: 0,
        id: String::new(),
        doc_type: String::new(),
        has_id: false,
        routing: None,
        source: Vec::new(),
        has_source: false,
        stats: ReadStats::default(),
        on_document,
        failure: None,
    };
    match segment.visit_live_documents(&mut collector) {
        Ok(()) => Ok(collector.stats),
        Err(ferry_lucene::Error::Aborted) => {
            Err(collector.failure.take().unwrap_or(Error::Lucene(ferry_lucene::Error::Aborted)))
        }
        Err(e) => Err(e.into()),
    }
}

impl std::ops::AddAssign for ReadStats {
    fn add_assign(&mut self, other: ReadStats) {
        self.documents += other.documents;
        self.source_bytes += other.source_bytes;
        self.without_id += other.without_id;
        self.without_source += other.without_source;
    }
}

/// Reads every segment of `commit` in order, calling `on_document` with the segment's name and each document
/// [`read_segment`] yields; returns the totals. Every segment is opened — and so every file's header and
/// checksum verified — before the first document is handed out, so a damaged commit yields no documents at
/// all rather than some of them.
pub fn read_commit<F>(dir: &dyn Directory, commit: &Commit, mut on_document: F) -> Result<ReadStats>
where
    F: FnMut(&str, &Document<'_>) -> Result<()>,
{
    let segments = commit.segments.iter().map(|info| SegmentReader::open(dir, info)).collect::<Result<Vec<_>, _>>()?;
    let mut total = ReadStats::default();
    for segment in &segments {
        let _span = tracing::debug_span!("segment", name = %segment.name()).entered();
        let stats = read_segment(segment, |doc| on_document(segment.name(), doc))?;
        tracing::debug!(documents = stats.documents, without_id = stats.without_id, "segment read");
        total += stats;
    }
    Ok(total)
}
