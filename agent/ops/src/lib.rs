//! Plumbing that every long-running part of Ferry needs in the same form — the backfill, the capture proxy and
//! its Kafka sink, the replayer and the cluster and Kafka clients — kept here once so that a fix to, say, how a
//! checkpoint reaches the disk applies everywhere.
#![deny(missing_docs)]

pub mod fs;
pub mod metrics_endpoint;
pub mod retry;
mod secret;

pub use retry::RetryPolicy;
pub use secret::Secret;
