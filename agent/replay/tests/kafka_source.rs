//! The Kafka source against a real broker (tansu on 127.0.0.1): records of two partitions read as cursors on
//! two lanes, offsets committed per partition only behind completed records, and a restarted member of the
//! group resuming exactly there; a drained member kept in its group past `max.poll.interval.ms` while its last
//! requests finish. Skipped, with a `SKIP:` line, when tansu is not installed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ferry_kafka::{KafkaConfig, Producer};
use ferry_replay::watermark::Watermark;
use ferry_replay::{Cursor, KafkaSource, Source, SourceRecord};
use ferry_tests::Tansu;

const TIMEOUT: Duration = Duration::from_secs(60);

/// A broker for test `name` with a topic `replay-source` of `partitions` partitions, and a client configuration
/// for it with tansu's producer workaround; `None` (after a `SKIP:` line) without tansu.
fn topic(name: &str, partitions: u32) -> Option<(Tansu, KafkaConfig)> {
    let broker = Tansu::start(name)?;
    broker.create_topic("replay-source", partitions);
    let mut config = KafkaConfig::new(&broker.brokers(), "replay-source");
    for (key, value) in Tansu::PRODUCER_WORKAROUND {
        config.properties.insert(key.to_string(), value.to_string());
    }
    Some((broker, config))
}

/// Produces `count` records keyed `c0`, `c1`, … one per batch (tansu's workaround); returns each record's
/// (partition, offset) by index.
fn produce(config: &KafkaConfig, count: usize) -> Vec<(i32, i64)> {
    let producer = Producer::new(config).expect("producer");
    let mut placed = vec![None; count];
    for i in 0..count {
        producer.send(format!("c{i}").as_bytes(), format!("record {i}").as_bytes(), i).expect("send");
        producer.flush(TIMEOUT).expect("flush");
        for delivery in producer.poll(Duration::ZERO) {
            let delivered = delivery.result.expect("delivered");
            placed[delivery.token] = Some((delivered.partition, delivered.offset));
        }
    }
    placed.into_iter().map(|p| p.expect("every record acknowledged")).collect()
}

/// Reads until the source says it is drained.
fn read_until_drained(source: &mut KafkaSource) -> Vec<SourceRecord> {
    let deadline = Instant::now() + TIMEOUT;
    let mut records = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "not drained within {TIMEOUT:?}; read {records:?}");
        match source.next_record().expect("next record") {
            Some(record) => records.push(record),
            None if source.drained().expect("drained") => return records,
            None => {}
        }
        assert!(source.revoked().is_empty(), "a lone group member loses no partition");
    }
}

#[test]
fn two_partitions_commit_behind_completed_records_and_resume_there() {
    let Some((_broker, config)) = topic("two_partitions_commit_behind_completed_records_and_resume_there", 2) else {
        return;
    };
    let placed = produce(&config, 12);
    let mut per_partition: BTreeMap<i32, Vec<(usize, i64)>> = BTreeMap::new();
    for (i, &(partition, offset)) in placed.iter().enumerate() {
        per_partition.entry(partition).or_default().push((i, offset));
    }
    assert_eq!(per_partition.keys().copied().collect::<Vec<_>>(), vec![0, 1], "keys spread over both partitions");
    let (first, second) = (&per_partition[&0], &per_partition[&1]);
    assert!(first.len() >= 3, "partition 0 holds {first:?}");

    let group = "replay-source-test";
    let started = Instant::now();
    let mut source = KafkaSource::new(&config, group).expect("consumer");
    let records = read_until_drained(&mut source);
    eprintln!("first member read {} records in {:?}", records.len(), started.elapsed());
    assert_eq!(records.len(), 12);
    for record in &records {
        let Cursor::Kafka { partition, offset } = record.at else { panic!("not a Kafka cursor: {record:?}") };
        assert_eq!(record.after, Cursor::Kafka { partition, offset: offset + 1 });
        assert_eq!(record.at.lane(), partition as u32, "one lane per partition");
        let i = placed.iter().position(|&p| p == (partition, offset)).expect("a produced record");
        assert_eq!(record.bytes, format!("record {i}").into_bytes());
    }

    // Every record completes except the third of partition 0, whose request is still in flight.
    let stuck = Cursor::Kafka { partition: 0, offset: first[2].1 };
    let mut watermark = Watermark::new();
    for record in &records {
        let held = watermark.read(record.at, record.after);
        if record.at != stuck {
            watermark.release(held);
        }
    }
    let end_of_second = second.last().map(|&(_, offset)| offset + 1).expect("records on partition 1");
    let points = watermark.resume_points();
    assert_eq!(points, vec![stuck, Cursor::Kafka { partition: 1, offset: end_of_second }]);
    source.committer().commit(&points).expect("commit");
    drop(source);

    // A restarted member resumes partition 0 at the unfinished record and has nothing left on partition 1.
    let started = Instant::now();
    let mut source = KafkaSource::new(&config, group).expect("consumer");
    let again = read_until_drained(&mut source);
    eprintln!("restarted member read {} records in {:?}", again.len(), started.elapsed());
    let expected: Vec<Cursor> = first[2..].iter().map(|&(_, offset)| Cursor::Kafka { partition: 0, offset }).collect();
    assert_eq!(again.iter().map(|r| r.at).collect::<Vec<_>>(), expected);

    // Committing a partition the member does not own is skipped, not an error (it was revoked meanwhile).
    source.committer().commit(&[Cursor::Kafka { partition: 7, offset: 1 }]).expect("a revoked partition is skipped");
}

#[test]
fn a_drained_member_kept_alive_past_the_poll_interval_commits_and_leaves_late_records_for_later() {
    let Some((_broker, mut config)) =
        topic("a_drained_member_kept_alive_past_the_poll_interval_commits_and_leaves_late_records_for_later", 1)
    else {
        return;
    };
    produce(&config, 3);
    // The last requests of a paced replay can take longer than the group lets a member go without polling.
    for (key, value) in [("max.poll.interval.ms", "6000"), ("session.timeout.ms", "6000")] {
        config.properties.insert(key.to_string(), value.to_string());
    }
    let interval = Duration::from_secs(8);
    let mut alive = KafkaSource::new(&config, "keep-alive").expect("consumer");
    let records = read_until_drained(&mut alive);
    assert_eq!(records.len(), 3);
    // Records arriving while the last requests finish are left for the next run, not lost.
    produce(&config, 2);
    let started = Instant::now();
    while started.elapsed() < interval {
        assert!(alive.keep_alive().expect("keep alive"), "a Kafka source asks to be kept alive");
    }
    // Paused, not read and dropped: the late records are still ahead of this member.
    assert!(!alive.drained().expect("lag"), "keep-alive consumed records after the drain");
    alive.committer().commit(&[records[2].after]).expect("still in the group: the commit is accepted");
    drop(alive);
    let mut resumed = KafkaSource::new(&config, "keep-alive").expect("consumer");
    let late = read_until_drained(&mut resumed);
    assert_eq!(
        late.iter().map(|r| r.at).collect::<Vec<_>>(),
        [3, 4].map(|offset| Cursor::Kafka { partition: 0, offset })
    );
}
