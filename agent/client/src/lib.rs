//! HTTP client for Elasticsearch and OpenSearch clusters.
//!
//! One [`Client`] per cluster holds an HTTP/1.1 keep-alive pool (hyper), speaks `https://` through rustls with
//! the Mozilla roots, a custom CA or (loudly) no verification, authenticates with basic auth or AWS SigV4
//! (`es`, `aoss`), gzips `_bulk` bodies on request, and identifies the cluster from `GET /`. A pooled
//! connection that the server or a load balancer closed while idle never surfaces as an error: the request is
//! sent again once, on a fresh connection.
#![deny(missing_docs)]

mod client;
mod config;
mod connect;
mod error;
mod info;
mod sigv4;

pub use client::{Client, Preserve, Response};
pub use config::{Auth, ClusterConfig, SigV4Service, TlsOptions};
pub use error::{Error, Result};
pub use ferry_ops::Secret;
pub use info::{ClusterInfo, Distribution, Version};
