//! The capture proxy with a Kafka sink, end to end: the real `ferry capture` binary between keep-alive clients
//! and a real upstream (osmem-server), producing to a real Kafka-protocol broker (tansu). Every exchange a
//! client made must be in the topic exactly once and in per-connection order, also when the broker dies
//! mid-test (the capture spills to the local log and drains it after the broker is back), and the replayer's
//! consumer must resume a group exactly at its committed offset.
//!
//! Skipped, with a `SKIP:` line, when tansu is not installed (scripts/setup installs it).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use ferry_kafka::{Error, KafkaConfig, KafkaRecords, Producer};
use ferry_tests::process::CaptureProxy;
use ferry_tests::{Osmem, Tansu};
use ferry_traffic::exchange::assemble;
use ferry_traffic::http1::{Event, Framer, Side};
use ferry_traffic::TrafficStream;

const TIMEOUT: Duration = Duration::from_secs(60);

/// The value of `ferry_capture_NAME` on the proxy's metrics endpoint.
fn count(proxy: &CaptureProxy, name: &str) -> u64 {
    proxy.metric(&format!("ferry_capture_{name}")) as u64
}

/// Waits until every record made so far is acknowledged by Kafka (nothing queued, in the spill or sent).
fn wait_until_acknowledged(proxy: &CaptureProxy) {
    let mut last = (u64::MAX, u64::MAX);
    proxy.wait_for("records acknowledged by Kafka", |p| {
        let now = (count(p, "records_total"), count(p, "kafka_sent_total"));
        let settled = count(p, "connections_active") == 0
            && count(p, "queue_bytes") == 0
            && count(p, "spilling") == 0
            && now.0 == now.1
            && now.0 > 0;
        // Two equal readings 50 ms apart: no record was being made in between.
        let stable = settled && now == last;
        last = now;
        stable
    });
}

/// Writes a proxy configuration producing to `topic` with tansu's workaround and `properties`.
fn write_config(
    dir: &Path,
    upstream: &str,
    brokers: &str,
    topic: &str,
    properties: &[(&str, &str)],
) -> std::path::PathBuf {
    let mut props: Vec<(&str, &str)> = Tansu::PRODUCER_WORKAROUND.to_vec();
    props.extend_from_slice(properties);
    let props: Vec<String> = props.iter().map(|(k, v)| format!("{k:?} = {v:?}")).collect();
    let text = format!(
        "listen = \"127.0.0.1:0\"\nupstream = {upstream:?}\nmetrics_listen = \"127.0.0.1:0\"\n\n[capture]\nlog_dir = {:?}\n\n[capture.kafka]\nbrokers = {brokers:?}\ntopic = {topic:?}\n\n[capture.kafka.properties]\n{}\n",
        dir.join("spill").display().to_string(),
        props.join("\n")
    );
    let path = dir.join("capture.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// A keep-alive client connection that frames responses with Ferry's own HTTP/1.1 framer.
struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    seen: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Client {
    fn connect(addr: &str) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        Client { stream, buf: Vec::new(), seen: Vec::new() }
    }

    /// Sends one request and returns the whole response, remembering the pair.
    fn send(&mut self, request: Vec<u8>) -> Vec<u8> {
        self.stream.write_all(&request).expect("send request");
        let mut framer = Framer::new(Side::Response);
        let mut response = Vec::new();
        loop {
            let step = framer.next(&self.buf).expect("a well-framed response");
            response.extend(self.buf.drain(..step.consumed));
            let done = match step.event {
                Some(Event::End) => true,
                Some(Event::Head(head)) => !head.is_interim() && framer.message_done(),
                None => false,
            };
            if done {
                self.seen.push((request, response.clone()));
                return response;
            }
            if step.consumed == 0 || self.buf.is_empty() {
                let mut chunk = [0u8; 64 * 1024];
                let n = self.stream.read(&mut chunk).expect("read response");
                assert!(n > 0, "connection closed mid-response after {} bytes", response.len());
                self.buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
}

fn request(method: &str, target: &str, body: &str) -> Vec<u8> {
    let mut r = format!("{method} {target} HTTP/1.1\r\nHost: ferry-test\r\n");
    if !body.is_empty() {
        r.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
    }
    r.push_str("\r\n");
    r.push_str(body);
    r.into_bytes()
}

/// `n` indexing requests and reads of them on one connection, all distinct (the tag is in every target).
fn workload(addr: &str, index: &str, tag: &str, n: usize) -> Client {
    let mut client = Client::connect(addr);
    for i in 0..n {
        let body = format!("{{\"tag\":\"{tag}\",\"i\":{i},\"text\":\"{}\"}}", "x".repeat(i * 300));
        let put = client.send(request("PUT", &format!("/{index}/_doc/{tag}-{i}?refresh=true"), &body));
        assert!(
            put.starts_with(b"HTTP/1.1 201") || put.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&put)
        );
        client.send(request("GET", &format!("/{index}/_doc/{tag}-{i}"), ""));
    }
    client.send(request("GET", &format!("/{index}/_doc/{tag}-missing"), ""));
    client
}

/// A consumed capture record.
struct Consumed {
    partition: i32,
    key: Vec<u8>,
    stream: TrafficStream,
}

/// Reads `topic` from the start with a fresh group until `enough` holds, then 1 s longer (to catch duplicates).
fn consume(brokers: &str, topic: &str, enough: impl Fn(&[Consumed]) -> bool) -> Vec<Consumed> {
    let group = format!("ferry-test-{topic}-{}", std::process::id());
    let consumer = KafkaRecords::new(&KafkaConfig::new(brokers, topic), &group).expect("consumer");
    let mut records = Vec::new();
    let deadline = Instant::now() + TIMEOUT;
    let mut quiet_until: Option<Instant> = None;
    loop {
        if let Some(record) = consumer.poll(Duration::from_millis(100)) {
            let record = record.expect("consume");
            let stream = TrafficStream::decode(&record.value).expect("a TrafficStream value");
            records.push(Consumed { partition: record.partition, key: record.key.unwrap_or_default(), stream });
        }
        match quiet_until {
            Some(t) if Instant::now() >= t => return records,
            Some(_) => {}
            None if enough(&records) => quiet_until = Some(Instant::now() + Duration::from_secs(1)),
            None => assert!(Instant::now() < deadline, "only {} records in {topic} after {TIMEOUT:?}", records.len()),
        }
    }
}

/// Exchanges of `clients` found among `records` (first copies only).
fn exchanges_found(records: &[Consumed]) -> usize {
    let (unique, _) = dedup(records);
    assemble(unique.iter().copied()).iter().map(|c| c.exchanges.len()).sum()
}

/// The first copy of each (connection, sequence) in consumption order, and how many copies were extra.
fn dedup(records: &[Consumed]) -> (Vec<&TrafficStream>, usize) {
    let mut seen = HashSet::new();
    let mut unique = Vec::new();
    for r in records {
        if seen.insert((r.stream.connection_id.clone(), r.stream.sequence())) {
            unique.push(&r.stream);
        }
    }
    let duplicates = records.len() - unique.len();
    (unique, duplicates)
}

/// Asserts that the records hold exactly the clients' exchanges, byte for byte, each connection's in order,
/// each connection on one partition under its id as key, with sequence numbers 0, 1, 2, … (nothing lost).
fn assert_exactly_once(records: &[Consumed], clients: &[Client]) {
    let mut partitions: HashMap<&str, HashSet<i32>> = HashMap::new();
    for r in records {
        assert_eq!(r.key, r.stream.connection_id.as_bytes(), "the key is the connection id");
        partitions.entry(&r.stream.connection_id).or_default().insert(r.partition);
    }
    assert!(partitions.values().all(|p| p.len() == 1), "a connection spans partitions: {partitions:?}");
    let (unique, _) = dedup(records);
    let mut sequences: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for s in &unique {
        sequences.entry(&s.connection_id).or_default().push(s.sequence().expect("a sequence number"));
    }
    for (id, seq) in &sequences {
        let expected: Vec<i32> = (0..seq.len() as i32).collect();
        assert_eq!(seq, &expected, "records of {id} out of order or missing");
    }
    let connections = assemble(unique.iter().copied());
    assert_eq!(connections.len(), clients.len(), "one captured connection per client connection");
    let total: usize = connections.iter().map(|c| c.exchanges.len()).sum();
    assert_eq!(total, clients.iter().map(|c| c.seen.len()).sum::<usize>(), "no exchange more, none less");
    for client in clients {
        let first = &client.seen[0].0;
        let captured = connections
            .iter()
            .find(|c| c.exchanges.first().is_some_and(|e| &e.request == first))
            .unwrap_or_else(|| panic!("no captured connection starts with {}", String::from_utf8_lossy(first)));
        assert_eq!(captured.exchanges.len(), client.seen.len());
        for (exchange, (request, response)) in captured.exchanges.iter().zip(&client.seen) {
            assert_eq!(&exchange.request, request, "request bytes of {}", captured.id);
            assert_eq!(&exchange.response, response, "response bytes of {}", captured.id);
            assert!(exchange.complete);
        }
    }
}

#[test]
fn every_exchange_is_in_kafka_exactly_once_and_in_order() {
    let Some(tansu) = Tansu::start("every_exchange_is_in_kafka_exactly_once_and_in_order") else { return };
    tansu.create_topic("capture-a", 3);
    let osmem = Osmem::start();
    let dir = tempfile::tempdir().expect("tempdir");
    // The file names a dead broker and another topic: the flags must override both.
    let config = write_config(dir.path(), osmem.url(), "127.0.0.1:1", "not-this-one", &[]);
    let proxy = CaptureProxy::with_config(&config, &["--kafka", &tansu.brokers(), "--topic", "capture-a"]);

    let addr = proxy.addr();
    let clients: Vec<Client> = thread::scope(|s| {
        let workers: Vec<_> = (0..4).map(|c| s.spawn(move || workload(addr, "kafka-a", &format!("c{c}"), 6))).collect();
        workers.into_iter().map(|w| w.join().expect("client")).collect()
    });
    clients.iter().for_each(|c| c.stream.shutdown(std::net::Shutdown::Both).expect("close"));
    wait_until_acknowledged(&proxy);
    assert_eq!(count(&proxy, "spill_records_total"), 0, "a healthy broker needs no spill");
    assert_eq!(count(&proxy, "kafka_failed_total"), 0);
    let sent = count(&proxy, "kafka_sent_total");
    proxy.stop();

    let expected: usize = clients.iter().map(|c| c.seen.len()).sum();
    let records = consume(&tansu.brokers(), "capture-a", |r| r.len() as u64 >= sent && exchanges_found(r) >= expected);
    assert_eq!(records.len() as u64, sent, "as many records in the topic as the proxy had acknowledged");
    assert_eq!(dedup(&records).1, 0, "no duplicates from a healthy broker");
    assert_exactly_once(&records, &clients);
}

/// The response without its `Date` header (the only part that may differ between two identical GETs).
fn without_date(response: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(response);
    text.split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("date:"))
        .collect::<Vec<_>>()
        .join("\r\n")
        .into_bytes()
}

#[test]
fn a_broker_outage_spills_to_the_log_and_drains_in_order_after_restart() {
    let Some(mut tansu) = Tansu::start("a_broker_outage_spills_to_the_log_and_drains_in_order_after_restart") else {
        return;
    };
    tansu.create_topic("capture-b", 3);
    let osmem = Osmem::start();
    let dir = tempfile::tempdir().expect("tempdir");
    // Fail fast, and never let the producer create the topic on the restarted broker before the test does.
    // Idempotence is off here only: tansu's memory storage forgets producer ids on restart (a real Kafka keeps
    // them), and librdkafka's idempotent producer then stalls, every send timing out.
    let fast_failure = [
        ("message.timeout.ms", "2000"),
        ("reconnect.backoff.max.ms", "500"),
        ("allow.auto.create.topics", "false"),
        ("enable.idempotence", "false"),
    ];
    let config = write_config(dir.path(), osmem.url(), &tansu.brokers(), "capture-b", &fast_failure);
    let proxy = CaptureProxy::with_config(&config, &[]);

    // Before the outage: acknowledged, then read back (tansu keeps records in memory only, so they are read
    // now: the restarted broker starts empty).
    let mut clients: Vec<Client> =
        (0..3).map(|c| workload(proxy.addr(), "kafka-b", &format!("before{c}"), 4)).collect();
    clients.iter().for_each(|c| c.stream.shutdown(std::net::Shutdown::Both).expect("close"));
    wait_until_acknowledged(&proxy);
    let sent_before = count(&proxy, "kafka_sent_total");
    let before_exchanges: usize = clients.iter().map(|c| c.seen.len()).sum();
    let before = consume(&tansu.brokers(), "capture-b", |r| {
        r.len() as u64 >= sent_before && exchanges_found(r) >= before_exchanges
    });
    assert_eq!(before.len() as u64, sent_before);

    tansu.stop();
    let started = Instant::now();
    let mut during: Vec<Client> = (0..3).map(|c| workload(proxy.addr(), "kafka-b", &format!("during{c}"), 4)).collect();
    // Reads of documents written before the outage answer exactly as the upstream answers them directly.
    let mut direct = Client::connect(osmem.addr());
    for (c, client) in during.iter_mut().enumerate() {
        let target = format!("/kafka-b/_doc/before{c}-1");
        let via_proxy = client.send(request("GET", &target, ""));
        assert_eq!(without_date(&via_proxy), without_date(&direct.send(request("GET", &target, ""))));
    }
    assert!(started.elapsed() < Duration::from_secs(10), "clients were held up: {:?}", started.elapsed());
    during.iter().for_each(|c| c.stream.shutdown(std::net::Shutdown::Both).expect("close"));
    proxy.wait_for("the capture to spill", |p| count(p, "spilling") == 1 && count(p, "spill_bytes") > 0);
    proxy.wait_for("every record of the outage in the spill", |p| {
        count(p, "connections_active") == 0 && count(p, "queue_bytes") == 0 && count(p, "spill_records_total") > 0
    });
    let spilled = count(&proxy, "spill_records_total");
    assert!(count(&proxy, "kafka_failed_total") > 0);
    assert!(dir.path().join("spill").read_dir().expect("spill dir").count() > 0);

    tansu.restart();
    tansu.create_topic("capture-b", 3);
    proxy.wait_for("the spill to drain", |p| count(p, "spilling") == 0);
    for reason in ["spill_full", "sink_error", "queue_full"] {
        assert_eq!(count(&proxy, &format!("dropped_requests_total{{reason=\"{reason}\"}}")), 0, "{reason}");
    }
    let during_exchanges: usize = during.iter().map(|c| c.seen.len()).sum();
    let after = consume(&tansu.brokers(), "capture-b", |r| exchanges_found(r) >= during_exchanges);
    proxy.stop();

    // Nothing acknowledged before the outage was sent again.
    let keys = |records: &[Consumed]| -> HashSet<(String, Option<i32>)> {
        records.iter().map(|r| (r.stream.connection_id.clone(), r.stream.sequence())).collect()
    };
    let overlap: Vec<_> = keys(&before).intersection(&keys(&after)).cloned().collect();
    assert!(overlap.is_empty(), "records acknowledged before the outage were sent again: {overlap:?}");
    let duplicates = dedup(&after).1;
    eprintln!(
        "outage: {spilled} records spilled, {} consumed after the restart, {duplicates} duplicates (records in flight when the broker died)",
        after.len()
    );
    assert!(after.len() as u64 >= spilled.saturating_sub(duplicates as u64));
    let mut all = before;
    all.extend(after);
    clients.append(&mut during);
    assert_exactly_once(&all, &clients);
}

#[test]
fn a_consumer_group_resumes_at_its_committed_offset() {
    let Some(tansu) = Tansu::start("a_consumer_group_resumes_at_its_committed_offset") else { return };
    tansu.create_topic("resume", 1);
    let mut config = KafkaConfig::new(&tansu.brokers(), "resume");
    config.properties.extend(Tansu::PRODUCER_WORKAROUND.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let producer = Producer::new(&config).expect("producer");
    for i in 0..10usize {
        producer.send(b"key", format!("record {i}").as_bytes(), i).expect("send");
        producer.flush(TIMEOUT).expect("flush");
    }
    let deliveries = producer.poll(Duration::ZERO);
    let offsets: Vec<i64> = deliveries.iter().map(|d| d.result.as_ref().expect("delivered").offset).collect();
    assert_eq!(offsets, (0..10).collect::<Vec<i64>>());
    assert_eq!(deliveries.iter().map(|d| d.token).collect::<Vec<_>>(), (0..10).collect::<Vec<_>>());

    let group = format!("resume-{}", std::process::id());
    let first = KafkaRecords::new(&config, &group).expect("consumer");
    let mut values = Vec::new();
    let deadline = Instant::now() + TIMEOUT;
    while values.len() < 10 {
        assert!(Instant::now() < deadline, "only {} records", values.len());
        if let Some(record) = first.poll(Duration::from_millis(100)) {
            let record = record.expect("consume");
            assert_eq!((record.partition, record.offset), (0, values.len() as i64));
            assert_eq!(record.key.as_deref(), Some(&b"key"[..]));
            assert!(record.timestamp_ms.is_some());
            values.push(String::from_utf8(record.value).expect("utf-8"));
        }
    }
    assert_eq!(values[9], "record 9");
    assert!(first.assignment_changes().contains(&ferry_kafka::AssignmentChange::Assigned(vec![0])));
    assert_eq!(first.assigned(), vec![0]);
    assert_eq!(first.watermarks(0, TIMEOUT).expect("watermarks"), (0, 10));
    assert_eq!(first.lag(TIMEOUT).expect("lag"), 0);
    first.commit(0, 3).expect("commit");
    assert!(matches!(first.commit(5, 1), Err(Error::NotAssigned { partition: 5, .. })));
    drop(first);

    let second = KafkaRecords::new(&config, &group).expect("consumer");
    let mut resumed = Vec::new();
    let deadline = Instant::now() + TIMEOUT;
    while resumed.len() < 7 {
        assert!(Instant::now() < deadline, "resumed only {resumed:?}");
        if let Some(record) = second.poll(Duration::from_millis(100)) {
            resumed.push(record.expect("consume").offset);
        }
    }
    assert_eq!(resumed, (3..10).collect::<Vec<i64>>(), "the group resumes exactly at the committed offset");
}
