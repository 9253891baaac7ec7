use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// What can go wrong talking to Kafka.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid; every problem found is listed.
    #[error("invalid Kafka configuration:\n  {}", problems.join("\n  "))]
    Config {
        /// One line per problem.
        problems: Vec<String>,
    },
    /// librdkafka reported an error while doing `op`.
    #[error("Kafka {op}: {source}")]
    Kafka {
        /// What was being done (`send`, `deliver`, `commit`, …).
        op: &'static str,
        /// librdkafka's error.
        source: KafkaError,
    },
    /// The caller asked to commit a partition this consumer does not own (any more): it was revoked in a
    /// rebalance and another member now consumes it from the last committed offset.
    #[error("partition {partition} of topic {topic:?} is not assigned to this consumer; its offset was not committed")]
    NotAssigned {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
    },
}

impl Error {
    pub(crate) fn kafka(op: &'static str) -> impl FnOnce(KafkaError) -> Error {
        move |source| Error::Kafka { op, source }
    }

    fn code(&self) -> Option<RDKafkaErrorCode> {
        match self {
            Error::Kafka { source, .. } => source.rdkafka_error_code(),
            Error::Config { .. } | Error::NotAssigned { .. } => None,
        }
    }

    /// The producer's local queue is full (the broker is slow or unreachable): try again later.
    pub fn is_queue_full(&self) -> bool {
        self.code() == Some(RDKafkaErrorCode::QueueFull)
    }

    /// Retrying cannot help: the broker rejects this record itself (too large, invalid). A caller that retries
    /// everything else must drop these, or it would retry them forever.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self.code(),
            Some(
                RDKafkaErrorCode::MessageSizeTooLarge
                    | RDKafkaErrorCode::InvalidMessageSize
                    | RDKafkaErrorCode::InvalidMessage
                    | RDKafkaErrorCode::InvalidRecord
            )
        ) || matches!(self, Error::Config { .. })
    }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
