//! The replayer's consumer: a consumer group over the capture topic that commits only what the caller says is
//! done.
//!
//! Contract with the caller (the replay engine):
//! - Call [`KafkaRecords::poll`] regularly (well within `max.poll.interval.ms`, 5 minutes by default): group
//!   membership and rebalances are served inside it, on the caller's thread.
//! - After each poll, take [`KafkaRecords::assignment_changes`]. On [`AssignmentChange::Revoked`], forget every
//!   record of those partitions that is not done: another member resumes them from the last committed offset
//!   (so a record may be seen twice across a rebalance: at least once, never lost).
//! - [`KafkaRecords::commit`] only offsets of records that are completely processed; it refuses partitions this
//!   member does not own any more ([`Error::NotAssigned`]), so a late commit cannot rewind another member.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::config::KafkaConfig;
use crate::error::{Error, Result};

/// Ferry's consumer settings; [`KafkaConfig::properties`] override them.
const CONSUMER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
    // A new group replays the topic from its start, not from records produced after it joined.
    ("auto.offset.reset", "earliest"),
    ("enable.partition.eof", "false"),
];

/// One record of the capture topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaRecord {
    /// The partition it came from.
    pub partition: i32,
    /// Its offset; commit `offset + 1` once it is done.
    pub offset: i64,
    /// The key (a capture's connection id), if any.
    pub key: Option<Vec<u8>>,
    /// The value (a `TrafficStream` for captures); empty for a null value.
    pub value: Vec<u8>,
    /// The record's timestamp in milliseconds since the Unix epoch, when the broker gave one.
    pub timestamp_ms: Option<i64>,
}

/// A change of the partitions this member owns, in the order they happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignmentChange {
    /// These partitions are now this member's.
    Assigned(Vec<i32>),
    /// These partitions are no longer this member's: drop their unfinished work and do not commit them.
    Revoked(Vec<i32>),
}

/// Tracks the assignment as librdkafka's rebalance callbacks report it.
struct Group {
    topic: String,
    assigned: Mutex<BTreeSet<i32>>,
    changes: Mutex<Vec<AssignmentChange>>,
}

impl Group {
    fn partitions(&self, list: &TopicPartitionList) -> Vec<i32> {
        list.elements().iter().filter(|e| e.topic() == self.topic).map(|e| e.partition()).collect()
    }
}

impl ClientContext for Group {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        crate::logging::log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        crate::logging::error(&error, reason);
    }
}

impl ConsumerContext for Group {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            let revoked = self.partitions(list);
            let mut assigned = self.assigned.lock().unwrap_or_else(PoisonError::into_inner);
            revoked.iter().for_each(|p| {
                assigned.remove(p);
            });
            tracing::debug!(topic = %self.topic, partitions = ?revoked, "Kafka partitions revoked");
            self.changes.lock().unwrap_or_else(PoisonError::into_inner).push(AssignmentChange::Revoked(revoked));
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(list) => {
                let added = self.partitions(list);
                self.assigned.lock().unwrap_or_else(PoisonError::into_inner).extend(added.iter().copied());
                tracing::debug!(topic = %self.topic, partitions = ?added, "Kafka partitions assigned");
                self.changes.lock().unwrap_or_else(PoisonError::into_inner).push(AssignmentChange::Assigned(added));
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(e) => tracing::warn!(topic = %self.topic, error = %e, "Kafka rebalance failed"),
        }
    }
}

/// A member of a consumer group reading the configured topic, committing only on request. See the module
/// documentation for the rebalance contract.
pub struct KafkaRecords {
    inner: BaseConsumer<Group>,
    topic: String,
}

impl KafkaRecords {
    /// Joins consumer group `group_id` on the configured topic (the group is joined during the first polls).
    /// Without a committed offset, a partition starts at its earliest record.
    pub fn new(config: &KafkaConfig, group_id: &str) -> Result<KafkaRecords> {
        config.validate()?;
        if group_id.is_empty() {
            return Err(Error::Config { problems: vec!["group id: must not be empty".to_string()] });
        }
        let group = Group {
            topic: config.topic.clone(),
            assigned: Mutex::new(BTreeSet::new()),
            changes: Mutex::new(Vec::new()),
        };
        let mut client = config.client_config(CONSUMER_DEFAULTS);
        client.set("group.id", group_id);
        // The caller's properties still win, except over the group id it passed explicitly.
        if let Some(id) = config.properties.get("group.id") {
            tracing::warn!(ignored = %id, group_id, "Kafka property group.id ignored: the group id argument wins");
            client.set("group.id", group_id);
        }
        let inner: BaseConsumer<Group> = client.create_with_context(group).map_err(Error::kafka("create consumer"))?;
        inner.subscribe(&[&config.topic]).map_err(Error::kafka("subscribe"))?;
        tracing::debug!(brokers = %config.brokers, topic = %config.topic, group_id, "Kafka consumer created");
        Ok(KafkaRecords { inner, topic: config.topic.clone() })
    }

    /// The next record, waiting up to `timeout`; `None` when none arrived in time. Rebalances happen inside
    /// this call: check [`assignment_changes`](Self::assignment_changes) after it.
    pub fn poll(&self, timeout: Duration) -> Option<Result<KafkaRecord>> {
        let message = match self.inner.poll(timeout)? {
            Ok(message) => message,
            Err(source) => return Some(Err(Error::Kafka { op: "consume", source })),
        };
        Some(Ok(KafkaRecord {
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
            timestamp_ms: message.timestamp().to_millis(),
        }))
    }

    /// Stops fetching from every partition assigned now, while [`poll`](Self::poll) goes on serving the group:
    /// for a member that has read what it wanted but must stay in the group (and keep committing) while the
    /// records it read are still being processed. Partitions assigned later are not paused.
    pub fn pause_all(&self) -> Result<()> {
        let assignment = self.inner.assignment().map_err(Error::kafka("assignment"))?;
        self.inner.pause(&assignment).map_err(Error::kafka("pause"))
    }

    /// Assignment changes since the last call, oldest first.
    pub fn assignment_changes(&self) -> Vec<AssignmentChange> {
        std::mem::take(&mut *self.inner.context().changes.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The partitions this member owns now.
    pub fn assigned(&self) -> Vec<i32> {
        self.inner.context().assigned.lock().unwrap_or_else(PoisonError::into_inner).iter().copied().collect()
    }

    /// Commits `next_offset` (the offset of the first record NOT done) for `partition`, synchronously. Fails
    /// with [`Error::NotAssigned`] when the partition was revoked: its new owner decides its progress.
    pub fn commit(&self, partition: i32, next_offset: i64) -> Result<()> {
        if !self.inner.context().assigned.lock().unwrap_or_else(PoisonError::into_inner).contains(&partition) {
            return Err(Error::NotAssigned { topic: self.topic.clone(), partition });
        }
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(&self.topic, partition, Offset::Offset(next_offset))
            .map_err(Error::kafka("commit"))?;
        self.inner.commit(&list, CommitMode::Sync).map_err(Error::kafka("commit"))
    }

    /// The low and high watermarks of `partition` (the first offset kept and the next offset to be written).
    pub fn watermarks(&self, partition: i32, timeout: Duration) -> Result<(i64, i64)> {
        self.inner.fetch_watermarks(&self.topic, partition, timeout).map_err(Error::kafka("fetch watermarks"))
    }

    /// Records not yet consumed by this member over its assigned partitions (high watermark minus the current
    /// position, or minus the committed offset before the first record of a partition arrived). One broker
    /// round trip per partition.
    pub fn lag(&self, timeout: Duration) -> Result<u64> {
        let positions = self.inner.position().map_err(Error::kafka("position"))?;
        let committed = self.inner.committed(timeout).map_err(Error::kafka("committed offsets"))?;
        let mut lag = 0u64;
        for partition in self.assigned() {
            let (low, high) = self.watermarks(partition, timeout)?;
            let offset_of = |list: &TopicPartitionList| match list.find_partition(&self.topic, partition)?.offset() {
                Offset::Offset(o) => Some(o),
                _ => None,
            };
            let at = offset_of(&positions).or_else(|| offset_of(&committed)).unwrap_or(low);
            lag = lag.saturating_add(u64::try_from(high.saturating_sub(at)).unwrap_or(0));
        }
        Ok(lag)
    }
}
