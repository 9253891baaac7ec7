use std::path::PathBuf;

/// Everything that stops a replay. Problems with single requests are not errors: they go to the dead-letter
/// file and the replay goes on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration cannot work; the message says what to change.
    #[error("invalid replay configuration: {0}")]
    Config(String),
    /// A file or directory of the replay's state or output could not be used.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The state directory holds a checkpoint this build cannot use.
    #[error("checkpoint {}: {reason}", path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong and how to get past it.
        reason: String,
    },
    /// The capture log could not be read.
    #[error("capture log: {0}")]
    Log(#[from] ferry_capture_log::Error),
    /// The Kafka consumer failed (configuration, metadata or commit).
    #[error("Kafka source: {0}")]
    Kafka(#[from] ferry_kafka::Error),
    /// Without `follow`, the consumer group gave this replayer no partition of the topic in time.
    #[error(
        "Kafka source: no partition of topic {topic:?} was assigned within {}s: check that the brokers are \
         reachable, the topic exists, and the group has fewer members than the topic has partitions",
        waited.as_secs()
    )]
    NoPartitions {
        /// The topic.
        topic: String,
        /// How long the replayer waited.
        waited: std::time::Duration,
    },
    /// The target cluster's client could not be built.
    #[error("target: {0}")]
    Client(#[from] ferry_client::Error),
    /// A transformation rule is invalid.
    #[error("transform rules: {0}")]
    Transform(#[from] ferry_replay_transform::Error),
    /// The comparison configuration is invalid.
    #[error("compare configuration: {0}")]
    Compare(#[from] ferry_replay_compare::Error),
    /// A task of the engine ended abnormally (a bug).
    #[error("replay task failed: {0}")]
    Task(String),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { op, path, source }
}
