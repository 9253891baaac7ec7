//! Elasticsearch documents out of Lucene segments.
#![deny(missing_docs)]
