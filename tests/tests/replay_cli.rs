//! `ferry replay` through the real binaries: a few requests captured by `ferry capture` in front of one
//! osmem-server, replayed by `ferry replay` into a second, empty one. The target must end with the source's
//! documents, the results file must hold one right line per request, and `ferry replay report` must read it.

use std::ffi::OsString;
use std::path::Path;

use ferry_tests::workload::{dump, CaptureProxy, HttpConnection};
use ferry_tests::{run_ferry, Osmem};
use serde_json::{json, Value};

fn results(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("the results file exists")
        .lines()
        .map(|line| serde_json::from_str(line).expect("each result is one JSON line"))
        .collect()
}

#[test]
fn captured_requests_replay_into_a_second_cluster_with_a_result_per_request() {
    let source = Osmem::start();
    let target = Osmem::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("log");
    let out = dir.path().join("results.ndjson");

    let proxy = CaptureProxy::start(source.url(), &log, &[]);
    let mut client = HttpConnection::connect(proxy.addr());
    let script: [(&str, &str, Option<Value>); 7] = [
        ("PUT", "/cli", Some(json!({"mappings": {"properties": {"n": {"type": "long"}}}}))),
        ("PUT", "/cli/_doc/1?refresh=true", Some(json!({"n": 1, "s": "one"}))),
        ("PUT", "/cli/_doc/2?refresh=true", Some(json!({"n": 2}))),
        ("POST", "/cli/_update/1?refresh=true", Some(json!({"doc": {"s": "uno"}}))),
        ("DELETE", "/cli/_doc/2?refresh=true", None),
        ("GET", "/cli/_doc/1", None),
        ("GET", "/cli/_doc/2", None),
    ];
    let statuses: Vec<u16> =
        script.iter().map(|(method, path, body)| client.json(method, path, body.as_ref()).status).collect();
    drop(client);
    proxy.stop();
    assert_eq!(statuses, vec![200, 201, 201, 200, 200, 200, 404]);

    let mut args: Vec<OsString> = vec!["replay".into(), "--log".into(), log.clone().into()];
    args.extend(["--target".into(), target.url().into(), "--out".into(), out.clone().into()]);
    args.push("--as-fast-as-possible".into());
    let replayed = run_ferry(&args);
    replayed.assert_success("ferry replay");
    assert!(replayed.stderr.contains("replayed 7 requests"), "{}", replayed.stderr);
    assert!(replayed.stderr.contains("0 dead-lettered, 0 replayed twice, 0 skipped partial"), "{}", replayed.stderr);

    let expected = dump(source.addr());
    assert_eq!(expected["cli"].len(), 1, "{expected:?}");
    assert_eq!(dump(target.addr()), expected, "the target holds the source's documents");

    let lines = results(&out);
    assert_eq!(lines.len(), 7);
    let methods: Vec<String> = lines
        .iter()
        .map(|l| {
            format!("{} {}", l["request"]["method"].as_str().unwrap_or(""), l["request"]["path"].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(methods[0], "PUT /cli");
    assert_eq!(methods[6], "GET /cli/_doc/2");
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["sequence"].as_u64(), Some(i as u64), "{line}");
        assert_eq!(line["source"]["status"].as_u64(), Some(u64::from(statuses[i])), "{line}");
        assert_eq!(line["target"]["status"], line["source"]["status"], "{line}");
        assert_eq!(line["verdict"], "match", "{line}");
        assert_eq!(line["replayed_twice"], false);
        assert!(line["captured_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{line}");
    }
    let connection = lines[0]["connection"].as_str().unwrap_or_default().to_string();
    assert!(lines.iter().all(|l| l["connection"] == connection.as_str()), "one client connection");

    let again = run_ferry(&args);
    again.assert_success("ferry replay (nothing new)");
    assert!(again.stderr.contains("replayed 0 requests from 0 records"), "{}", again.stderr);

    let report = run_ferry([OsString::from("replay"), "report".into(), out.clone().into(), "--json".into()]);
    report.assert_success("ferry replay report");
    let report: Value = serde_json::from_str(report.stdout_str()).expect("the report is JSON");
    let totals = &report["totals"];
    assert_eq!((totals["transactions"].as_u64(), totals["matched"].as_u64()), (Some(7), Some(7)), "{report:#}");
    assert_eq!((totals["mismatched"].as_u64(), totals["errors"].as_u64()), (Some(0), Some(0)), "{report:#}");
    let cli = report["indices"].as_array().and_then(|all| all.iter().find(|i| i["index"] == "cli"));
    assert_eq!(cli.map(|i| i["requests"].as_u64()), Some(Some(7)), "{report:#}");
    assert_eq!(report["latency"]["target"]["count"].as_u64(), Some(7), "{report:#}");

    let text = run_ferry([OsString::from("replay"), "report".into(), out.clone().into()]);
    text.assert_success("ferry replay report (text)");
    assert!(text.stdout_str().contains("cli"), "the text report names the index:\n{}", text.stdout_str());
}
