//! Replaying from a Kafka topic: a member of a consumer group reads the capture topic ([`KafkaRecords`]), and
//! progress is committed as the group's offsets.
//!
//! Each partition is a lane of [`Cursor::Kafka`] cursors, so the engine's watermark holds every partition back
//! separately, and a commit stores, per partition, the offset of the first record not completely replayed.
//! Partitions revoked in a rebalance are reported through [`Source::revoked`]: the engine drops their unfinished
//! work, and the consumer refuses to commit them afterwards, so their new owner resumes them from the last
//! commit (at least once). Without `follow`, the topic is drained when every assigned partition has been read up
//! to its high watermark.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_kafka::{AssignmentChange, KafkaConfig, KafkaRecords};

use crate::error::{Error, Result};
use crate::source::{Committer, Cursor, Source, SourceRecord};

/// How long one poll waits for a record, so the reader still notices a stop promptly.
const POLL_TIMEOUT: Duration = Duration::from_millis(200);

/// Broker round trips for watermarks and committed offsets.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a replay that does not follow waits for the group to assign it a partition before giving up.
const ASSIGNMENT_TIMEOUT: Duration = Duration::from_secs(60);

/// A consumer-group member reading a capture topic.
pub struct KafkaSource {
    records: Arc<KafkaRecords>,
    topic: String,
    revoked: Vec<u32>,
    /// Since when this member owns no partition (the group is still forming, or gave it none).
    unassigned_since: Option<Instant>,
    /// Fetching was paused after the drain ([`Source::keep_alive`]).
    paused: bool,
}

impl std::fmt::Debug for KafkaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSource").field("topic", &self.topic).finish_non_exhaustive()
    }
}

impl KafkaSource {
    /// Joins consumer group `group` on the configured topic; partitions the group never committed are read
    /// from their earliest record.
    pub fn new(config: &KafkaConfig, group: &str) -> Result<KafkaSource> {
        let records = KafkaRecords::new(config, group)?;
        tracing::debug!(topic = %config.topic, group, "replaying from Kafka");
        Ok(KafkaSource {
            records: Arc::new(records),
            topic: config.topic.clone(),
            revoked: Vec::new(),
            unassigned_since: None,
            paused: false,
        })
    }

    fn take_changes(&mut self) {
        for change in self.records.assignment_changes() {
            if let AssignmentChange::Revoked(partitions) = change {
                let lanes = partitions.iter().map(|&partition| Cursor::Kafka { partition, offset: 0 }.lane());
                self.revoked.extend(lanes);
            }
        }
    }
}

impl Source for KafkaSource {
    fn next_record(&mut self) -> Result<Option<SourceRecord>> {
        let polled = self.records.poll(POLL_TIMEOUT);
        self.take_changes();
        match polled {
            None => Ok(None),
            // librdkafka recovers from broker and network errors by itself; the next poll goes on.
            Some(Err(e)) => {
                tracing::warn!(topic = %self.topic, error = %e, "Kafka consume error");
                Ok(None)
            }
            Some(Ok(record)) => Ok(Some(SourceRecord {
                at: Cursor::Kafka { partition: record.partition, offset: record.offset },
                after: Cursor::Kafka { partition: record.partition, offset: record.offset.saturating_add(1) },
                bytes: record.value,
            })),
        }
    }

    /// Kafka keeps the resume points (the group's committed offsets), fetched by the consumer when partitions
    /// are assigned: none are known up front.
    fn resumed_from(&self) -> Vec<Cursor> {
        Vec::new()
    }

    fn committer(&self) -> Arc<dyn Committer> {
        Arc::new(KafkaCommitter { records: self.records.clone() })
    }

    fn revoked(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.revoked)
    }

    /// Pauses every partition (once) and keeps polling, so the member stays in the group and its commits are
    /// accepted. Records of partitions assigned meanwhile are not replayed by this run: nothing after them is
    /// committed, so the next run (or another member) reads them.
    fn keep_alive(&mut self) -> Result<bool> {
        if !self.paused {
            self.records.pause_all()?;
            self.paused = true;
        }
        if let Some(Ok(record)) = self.records.poll(POLL_TIMEOUT) {
            tracing::debug!(
                partition = record.partition,
                offset = record.offset,
                "record after the drain left for later"
            );
        }
        self.take_changes();
        Ok(true)
    }

    fn drained(&mut self) -> Result<bool> {
        if self.records.assigned().is_empty() {
            let since = *self.unassigned_since.get_or_insert_with(Instant::now);
            if since.elapsed() > ASSIGNMENT_TIMEOUT {
                return Err(Error::NoPartitions { topic: self.topic.clone(), waited: ASSIGNMENT_TIMEOUT });
            }
            return Ok(false);
        }
        self.unassigned_since = None;
        Ok(self.records.lag(METADATA_TIMEOUT)? == 0)
    }
}

/// Commits resume points as the group's offsets, skipping partitions revoked meanwhile.
struct KafkaCommitter {
    records: Arc<KafkaRecords>,
}

impl Committer for KafkaCommitter {
    fn commit(&self, points: &[Cursor]) -> Result<()> {
        for point in points {
            let Cursor::Kafka { partition, offset } = *point else { continue };
            match self.records.commit(partition, offset) {
                Ok(()) => {}
                // Revoked between the watermark's snapshot and now: the new owner decides its progress.
                Err(ferry_kafka::Error::NotAssigned { .. }) => {
                    tracing::debug!(partition, offset, "revoked partition not committed");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}
