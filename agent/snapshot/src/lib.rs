//! Elasticsearch and OpenSearch snapshot repositories.
#![deny(missing_docs)]
