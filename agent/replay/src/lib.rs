//! Replay: captured traffic is sent again to a target cluster, in order and on time, and every target
//! response is compared with the source's.
//!
//! Records come from a [`Source`] (the local capture log, resumed from a checkpoint, or a Kafka topic read by a
//! consumer group, resumed from its committed offsets: [`kafka_source`]). Each connection is rebuilt into
//! request/response exchanges ([`ferry_traffic::exchange::Assembler`]), and its requests are replayed one at a
//! time in order while many connections run in parallel, at the captured pace scaled by a speedup (or as fast
//! as possible), within bounds on requests in flight and on buffered bytes. Across connections, a request
//! waits for every request the source had answered before it began (causal order), and scroll and
//! point-in-time ids are swapped for the target's own. Each request is transformed
//! ([`ferry_replay_transform`]), sent with retries, and its response compared with the captured one
//! ([`ferry_replay_compare`]); the result is one line of the results NDJSON. Requests that cannot be replayed go
//! to a dead-letter file. Progress is committed only behind completed requests ([`watermark`]), per lane (a
//! Kafka partition), so a restart resumes at least once, and the sent journal ([`journal`]) marks requests an
//! earlier run had already sent as `replayed_twice`.
#![deny(missing_docs)]

mod causal;
mod config;
mod dead_letter;
mod engine;
mod error;
pub mod journal;
pub mod kafka_source;
mod metrics;
mod outcome;
mod serve;
mod server_ids;
pub mod source;
mod time;
pub mod watermark;

pub use config::{Config, SourceConfig, DEFAULT_GROUP};
pub use dead_letter::DeadLetter;
pub use engine::{run, Replay, Summary};
pub use error::{Error, Result};
/// The Kafka section of a [`SourceConfig::Kafka`], re-exported so configurations can be built without a direct
/// dependency on `ferry-kafka`.
pub use ferry_kafka::KafkaConfig;
pub use kafka_source::KafkaSource;
pub use metrics::Metrics;
pub use source::{Committer, Cursor, LogSource, Source, SourceRecord};
