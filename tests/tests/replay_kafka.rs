//! `ferry replay --kafka` end to end with a real broker: the scripted workload of the local-log test captured by
//! `ferry capture` producing to tansu on 127.0.0.1, then replayed from the topic by a consumer group into a
//! second osmem-server seeded with the same starting state. The target must end up with the source's documents
//! and every exchange must match.
//!
//! Skipped, with a `SKIP:` line, when tansu is not installed (scripts/setup installs it).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::path::Path;

use ferry_tests::workload::{dump, run_script, seed, CaptureProxy, CategoryMapping, FerryProcess};
use ferry_tests::{Osmem, Tansu};
use serde_json::Value;

/// A capture configuration producing to `topic` with tansu's one-record-per-batch workaround.
fn capture_config(dir: &Path, upstream: &str, brokers: &str, topic: &str) -> std::path::PathBuf {
    let properties: String = Tansu::PRODUCER_WORKAROUND.iter().map(|(k, v)| format!("{k:?} = {v:?}\n")).collect();
    let log = dir.join("spill");
    let text = format!(
        "listen = \"127.0.0.1:0\"\nupstream = {upstream:?}\n\n[capture]\nlog_dir = {log:?}\n\n[capture.kafka]\n\
         brokers = {brokers:?}\ntopic = {topic:?}\n\n[capture.kafka.properties]\n{properties}"
    );
    let path = dir.join("capture.toml");
    fs::write(&path, text).expect("write the capture configuration");
    path
}

#[test]
fn a_workload_captured_to_kafka_replays_to_an_equal_target() {
    let Some(broker) = Tansu::start("a_workload_captured_to_kafka_replays_to_an_equal_target") else { return };
    let topic = "captured-traffic";
    // One partition: the script's connections depend on each other's writes, and the replay's causal order only
    // sees requests it has read — on several partitions a predecessor may sit unread in another one (an open
    // gap; ferry-replay's own Kafka test covers several partitions and their commits).
    broker.create_topic(topic, 1);
    let (source, target) = (Osmem::start(), Osmem::start());
    seed(source.addr(), CategoryMapping::Keyword);
    seed(target.addr(), CategoryMapping::Keyword);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = capture_config(dir.path(), source.url(), &broker.brokers(), topic);
    let config_arg = config.to_string_lossy().into_owned();
    let proxy = CaptureProxy::start(source.url(), &dir.path().join("spill"), &["--config", &config_arg]);
    let transcript = run_script(proxy.addr());
    proxy.stop();

    let results = dir.path().join("results.ndjson");
    let mut args: Vec<OsString> = ["replay", "--kafka", &broker.brokers(), "--topic", topic, "--group", "e2e-replay"]
        .map(OsString::from)
        .to_vec();
    args.extend(["--target".into(), target.url().into(), "--out".into(), results.clone().into()]);
    args.extend(["--state".into(), dir.path().join("state").into()]);
    let out = FerryProcess::spawn("replay", args).wait();
    assert!(!out.panicked(), "ferry replay panicked:\n{}", out.stderr);
    out.assert_success("ferry replay --kafka");

    // Auto-id writes (`events`) get new ids on the target: compared as multisets of sources.
    let (expected, actual) = (dump(source.addr()), dump(target.addr()));
    assert_eq!(actual.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "indices");
    for (index, docs) in &expected {
        let sources = |d: &BTreeMap<String, Value>| {
            let mut all: Vec<String> = d.values().map(Value::to_string).collect();
            all.sort();
            all
        };
        if index == "events" {
            assert_eq!(sources(&actual[index]), sources(docs), "{index}");
        } else {
            assert_eq!(&actual[index], docs, "{index}: documents on the target vs the source");
        }
    }
    let text = fs::read_to_string(&results).expect("the results file");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("a JSON results line")).collect();
    assert_eq!(lines.len(), transcript.sent.len(), "one line per scripted request:\n{}", out.stderr);
    let mismatched: Vec<&Value> = lines.iter().filter(|l| l["verdict"] != "match").collect();
    assert!(mismatched.is_empty(), "same mappings on both sides, yet mismatches: {mismatched:#?}");
}
