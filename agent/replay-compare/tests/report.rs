//! The report over generated results files with known counts, torn and garbage input.

use ferry_replay_compare::report::{Report, MAX_LINE_BYTES};
use ferry_replay_compare::{
    Difference, DifferenceKind, RequestSummary, ResultLine, SourceSummary, TargetSummary, VerdictKind,
};
use serde_json::json;

const ENDPOINTS: [&str; 4] = ["_search", "_bulk", "doc.get", "doc.index"];

/// Line `i` of the generated file: every 10th a mismatch, every 25th (offset 1) an error, every 100th (offset
/// 99) replayed twice; source latency 1..=100 ms cycling, target twice that.
fn line(i: u64) -> ResultLine {
    let endpoint = ENDPOINTS[(i % 4) as usize];
    let verdict = if i % 10 == 0 {
        VerdictKind::Mismatch
    } else if i % 25 == 1 {
        VerdictKind::Error
    } else {
        VerdictKind::Match
    };
    let differences = match (verdict, endpoint) {
        (VerdictKind::Mismatch, "_search") => vec![
            Difference {
                path: format!("/hits/hits/{}/_source/x", i % 7),
                kind: DifferenceKind::Value,
                source: Some(json!(i)),
                target: Some(json!(i + 1)),
            },
            Difference {
                path: "/hits/total".into(),
                kind: DifferenceKind::Value,
                source: Some(json!(3)),
                target: Some(json!(2)),
            },
        ],
        (VerdictKind::Mismatch, _) => vec![Difference {
            path: "/_source/y".into(),
            kind: DifferenceKind::Type,
            source: Some(json!(5)),
            target: Some(json!("5")),
        }],
        _ => Vec::new(),
    };
    let latency = (i % 100 + 1) as f64;
    ResultLine {
        connection: format!("c{}", i % 13),
        sequence: i,
        captured_at: "2026-11-21T14:00:00.000Z".into(),
        request: RequestSummary {
            method: "POST".into(),
            path: format!("/logs/{endpoint}"),
            endpoint: endpoint.into(),
            indices: if endpoint == "_search" { vec!["logs".into(), "metrics".into()] } else { vec!["logs".into()] },
            bytes: 100,
        },
        source: SourceSummary { status: Some(200), latency_ms: Some(latency), bytes: 50 },
        target: TargetSummary {
            status: (verdict != VerdictKind::Error).then_some(200),
            latency_ms: Some(latency * 2.0),
            bytes: 50,
            error: (verdict == VerdictKind::Error).then(|| "connection refused".into()),
        },
        verdict,
        differences,
        replayed_twice: i % 100 == 99,
    }
}

fn file(lines: u64) -> String {
    (0..lines).map(|i| serde_json::to_string(&line(i)).unwrap() + "\n").collect()
}

fn within_one_percent(got: Option<f64>, exact: f64) -> bool {
    got.is_some_and(|g| (g - exact).abs() <= exact * 0.011)
}

#[test]
fn counts_latencies_and_differences_of_a_known_file() {
    let mut text = file(1000);
    text.push_str("this line is not a result\n");
    text.push_str(r#"{"connection":"c1","sequence":1000,"captured_at":"2026-"#);
    let report = Report::from_reader(text.as_bytes()).unwrap();
    let t = &report.totals;
    assert_eq!(
        (t.transactions, t.matched, t.mismatched, t.errors, t.replayed_twice, t.invalid_lines, t.torn_lines),
        (1000, 860, 100, 40, 10, 1, 1)
    );

    let search = report.endpoints.iter().find(|e| e.endpoint == "_search").unwrap();
    assert_eq!((search.counts.requests, search.counts.mismatched, search.counts.errors), (250, 50, 10));
    let get = report.endpoints.iter().find(|e| e.endpoint == "doc.get").unwrap();
    assert_eq!((get.counts.requests, get.counts.matched, get.counts.mismatched), (250, 190, 50));
    assert_eq!(report.endpoints.len(), 4);

    let indices: Vec<(&str, u64, u64)> =
        report.indices.iter().map(|i| (i.index.as_str(), i.counts.requests, i.counts.mismatched)).collect();
    assert_eq!(indices, [("logs", 1000, 100), ("metrics", 250, 50)]);

    let all = &report.latency;
    assert_eq!((all.source.count, all.target.count), (1000, 1000));
    for (got, exact) in [
        (all.source.p50_ms, 50.0),
        (all.source.p90_ms, 90.0),
        (all.source.p99_ms, 99.0),
        (all.target.p50_ms, 100.0),
        (all.target.p99_ms, 198.0),
    ] {
        assert!(within_one_percent(got, exact), "{got:?} vs {exact}");
    }
    assert_eq!((all.source.max_ms, all.target.max_ms), (Some(100.0), Some(200.0)));

    let groups: Vec<(&str, &str, DifferenceKind, u64)> =
        report.differences.iter().map(|g| (g.endpoint.as_str(), g.path.as_str(), g.kind, g.count)).collect();
    assert_eq!(
        groups,
        [
            ("_search", "/hits/hits/*/_source/x", DifferenceKind::Value, 50),
            ("_search", "/hits/total", DifferenceKind::Value, 50),
            ("doc.get", "/_source/y", DifferenceKind::Type, 50),
        ]
    );
    let example = &report.differences[0].example;
    assert_eq!(
        (example.connection.as_str(), example.sequence, example.path.as_str()),
        ("c0", 0, "/hits/hits/0/_source/x")
    );
    assert_eq!((example.source.clone(), example.target.clone()), (Some(json!(0)), Some(json!(1))));
    assert_eq!(report.difference_groups, 3);

    let rendered = report.render_text();
    for expected in [
        "1000 transactions: 860 matched, 100 mismatched, 40 errors (10 replayed twice)",
        "1 unreadable lines, 1 torn last line",
        "_search",
        "metrics",
        "/hits/hits/*/_source/x",
        "e.g. connection c0 request 0 at /hits/hits/0/_source/x: source 0 / target 1",
    ] {
        assert!(rendered.contains(expected), "{expected:?} missing from\n{rendered}");
    }
    let json = report.to_json();
    assert_eq!(json["totals"]["mismatched"], 100);
    assert_eq!(json["endpoints"][0]["requests"], 250);
    assert_eq!(json["differences"][2]["kind"], "type");
    assert_eq!(json["latency"]["source"]["max_ms"], 100.0);
}

#[test]
fn a_last_line_without_newline_still_counts_when_complete() {
    let text = file(3);
    let report = Report::from_reader(text.trim_end().as_bytes()).unwrap();
    assert_eq!((report.totals.transactions, report.totals.torn_lines, report.totals.invalid_lines), (3, 0, 0));
    let empty = Report::from_reader(&b""[..]).unwrap();
    assert_eq!(empty.totals.transactions, 0);
    assert!(empty.render_text().contains("0 transactions"));
    assert_eq!(empty.to_json()["latency"]["source"]["p50_ms"], serde_json::Value::Null);
}

#[test]
fn garbage_never_panics_and_overlong_lines_are_skipped() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let valid = file(20).into_bytes();
    for _ in 0..300 {
        let mut bytes = valid.clone();
        for _ in 0..(next() % 20) {
            let at = (next() % bytes.len() as u64) as usize;
            bytes[at] = next() as u8;
        }
        let report = Report::from_reader(bytes.as_slice()).unwrap();
        let t = &report.totals;
        assert!(t.transactions <= 20 && t.torn_lines <= 1, "{t:?}");
        let _ = report.render_text();
    }
    let noise: Vec<u8> = (0..100_000).map(|_| next() as u8).collect();
    let report = Report::from_reader(noise.as_slice()).unwrap();
    assert_eq!(report.totals.transactions, 0);

    let mut overlong = vec![b'{'; MAX_LINE_BYTES + 10];
    overlong.push(b'\n');
    overlong.extend_from_slice(file(2).as_bytes());
    let report = Report::from_reader(std::io::BufReader::with_capacity(4096, overlong.as_slice())).unwrap();
    assert_eq!((report.totals.transactions, report.totals.invalid_lines), (2, 1));
}

#[test]
fn read_errors_are_reported() {
    struct Failing;
    impl std::io::Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk gone"))
        }
    }
    let err = Report::from_reader(std::io::BufReader::new(Failing)).unwrap_err();
    assert!(err.to_string().contains("disk gone"), "{err}");
}

#[test]
fn result_lines_round_trip_with_the_documented_field_names() {
    let value = serde_json::to_value(line(10)).unwrap();
    assert_eq!(value["verdict"], "mismatch");
    assert_eq!(value["request"]["endpoint"], "doc.get");
    assert_eq!(value["differences"][0]["kind"], "type");
    assert_eq!(value["target"]["error"], serde_json::Value::Null);
    let back: ResultLine = serde_json::from_value(value).unwrap();
    assert_eq!(back, line(10));
}
