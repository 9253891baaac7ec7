//! `ferry metadata evaluate|migrate` end to end against real `osmem-server` targets: every fixture snapshot's
//! templates, indices and aliases are created and read back; ES 5.6 multi-type indices merge or split; a second
//! migrate only reports what exists; a live cluster works as the source.

use ferry_tests::http::http;
use ferry_tests::{fixtures_dir, run_ferry, Osmem, Output, SNAPSHOT_FIXTURES};
use serde_json::{json, Value};

fn metadata(command: &str, repo: &str, snapshot: &str, target: &str, extra: &[&str]) -> Output {
    let repo = fixtures_dir().join("snapshots").join(repo);
    let repo = repo.to_str().expect("utf-8 path");
    let mut args = vec!["metadata", command, "--repo", repo, "--snapshot", snapshot, "--target", target];
    args.extend_from_slice(extra);
    run_ferry(args)
}

fn json_out(output: &Output) -> Value {
    serde_json::from_str(output.stdout_str()).unwrap_or_else(|e| panic!("--json output is not JSON ({e}): {output:?}"))
}

/// The GET path that reads an item back.
fn read_back_path(kind: &str, name: &str) -> String {
    match kind {
        "component_template" => format!("/_component_template/{name}"),
        "index_template" => format!("/_index_template/{name}"),
        "legacy_template" => format!("/_template/{name}"),
        "index" => format!("/{name}"),
        "alias" => format!("/_alias/{name}"),
        other => panic!("unknown kind {other}"),
    }
}

#[test]
fn every_fixture_snapshot_migrates_and_a_second_run_changes_nothing() {
    for (repo, snapshot) in SNAPSHOT_FIXTURES {
        let target = Osmem::start();
        let evaluated = metadata("evaluate", repo, snapshot, target.url(), &["--json"]);
        evaluated.assert_success(&format!("evaluate {repo}"));
        let plan = json_out(&evaluated);
        let items = plan["items"].as_array().expect("items");
        let created: Vec<(String, String)> = items
            .iter()
            .filter(|item| item["action"] == "create")
            .map(|item| (item["kind"].as_str().unwrap().to_owned(), item["name"].as_str().unwrap().to_owned()))
            .collect();
        assert!(created.iter().any(|(kind, _)| kind == "index"), "{repo}: no index planned: {plan:#}");
        // Evaluate changed nothing.
        for (kind, name) in &created {
            assert_eq!(http(target.url(), "GET", &read_back_path(kind, name), None).0, 404, "{repo}: {kind} {name}");
        }

        let migrated = metadata("migrate", repo, snapshot, target.url(), &["--json"]);
        migrated.assert_success(&format!("migrate {repo}"));
        let applied = json_out(&migrated);
        for (kind, name) in &created {
            let (status, body) = http(target.url(), "GET", &read_back_path(kind, name), None);
            assert_eq!(status, 200, "{repo}: {kind} {name} not on the target: {body}");
        }
        assert!(
            applied["applied"]["items"].as_array().unwrap().iter().all(|i| i["outcome"] != "failed"),
            "{repo}: {applied:#}"
        );

        let before = http(target.url(), "GET", "/_all", None).1;
        let again = metadata("migrate", repo, snapshot, target.url(), &["--json"]);
        again.assert_success(&format!("second migrate {repo}"));
        let outcomes: Vec<String> = json_out(&again)["applied"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["outcome"].as_str().unwrap().to_owned())
            .collect();
        assert!(outcomes.iter().all(|o| o == "exists" || o == "skipped"), "{repo}: {outcomes:?}");
        assert_eq!(outcomes.iter().filter(|o| *o == "exists").count(), created.len(), "{repo}");
        assert_eq!(http(target.url(), "GET", "/_all", None).1, before, "{repo}: second migrate changed the target");
    }
}

#[test]
fn templates_and_aliases_of_the_6_8_and_7_10_fixtures_read_back_as_planned() {
    let target = Osmem::start();
    metadata("migrate", "ES_7_10_BWC_Check", "rfs-snapshot", target.url(), &[]).assert_success("migrate BWC");
    let (_, legacy) = http(target.url(), "GET", "/_template/bwc_template", None);
    assert_eq!(legacy["bwc_template"]["index_patterns"], json!(["bwc_index*"]));
    assert_eq!(legacy["bwc_template"]["mappings"]["properties"]["title"]["type"], "text");
    let (_, composable) = http(target.url(), "GET", "/_index_template/fwc_template", None);
    assert_eq!(
        composable["index_templates"][0]["index_template"]["composed_of"],
        json!(["fwc_mappings", "fwc_settings"])
    );
    let (_, alias) = http(target.url(), "GET", "/_alias/bwc_alias", None);
    assert!(alias.get("bwc_index_1").is_some(), "{alias}");

    let target = Osmem::start();
    metadata("migrate", "ES_6_8_Single", "global_state_snapshot", target.url(), &[]).assert_success("migrate 6.8");
    let (_, filtered) = http(target.url(), "GET", "/_alias/another_alias", None);
    assert_eq!(
        filtered["posts_2024_01_01"]["aliases"]["another_alias"]["filter"],
        json!({"term": {"author": "Tobias Funke"}})
    );
    let (_, settings) = http(target.url(), "GET", "/posts_2024_01_01/_settings?flat_settings=true", None);
    let settings = &settings["posts_2024_01_01"]["settings"];
    assert_eq!(settings["index.number_of_shards"], "1");
    assert_ne!(settings["index.uuid"], "0TW4usgxS2K2TRUP_489Ag", "the source uuid was carried over");
}

#[test]
fn five_six_multi_type_index_merges_by_default_and_splits_by_rule() {
    let target = Osmem::start();
    let output = metadata("migrate", "ES_5_6_Updates_Deletes", "rfs_snapshot", target.url(), &[]);
    output.assert_success("merge");
    assert!(output.stdout_str().contains("types type2, type1 merged into one mapping"), "{output:?}");
    let (_, mapping) = http(target.url(), "GET", "/test_updates_deletes/_mapping", None);
    let properties = &mapping["test_updates_deletes"]["mappings"]["properties"];
    assert_eq!(properties["title"]["type"], "text");
    assert_eq!(properties["content"]["fields"]["keyword"]["type"], "keyword");

    let target = Osmem::start();
    metadata("migrate", "ES_5_6_Updates_Deletes", "rfs_snapshot", target.url(), &["--type-rule", "split"])
        .assert_success("split");
    assert_eq!(http(target.url(), "GET", "/test_updates_deletes", None).0, 404);
    let (_, type1) = http(target.url(), "GET", "/test_updates_deletes_type1/_mapping", None);
    assert_eq!(type1["test_updates_deletes_type1"]["mappings"]["properties"], json!({"title": {"type": "text"}}));
    let (_, type2) = http(target.url(), "GET", "/test_updates_deletes_type2/_mapping", None);
    assert!(type2["test_updates_deletes_type2"]["mappings"]["properties"].get("contents").is_some(), "{type2}");
}

#[test]
fn evaluate_prints_every_transformation_and_skips_system_templates() {
    let target = Osmem::start();
    let output = metadata("evaluate", "ES_5_6_Updates_Deletes", "rfs_snapshot", target.url(), &[]);
    output.assert_success("evaluate 5.6");
    let text = output.stdout_str();
    assert!(text.contains("dropped setting index.uuid"), "{text}");
    assert!(text.contains("skip (system template)"), "{text}");
    assert!(text.contains("target: OpenSearch"), "{text}");

    let only = metadata(
        "evaluate",
        "ES_5_6_Updates_Deletes",
        "rfs_snapshot",
        target.url(),
        &["--json", "--template", "security_audit_log", "--index", "nothing"],
    );
    only.assert_success("evaluate with allowlists");
    let plan = json_out(&only);
    let planned: Vec<&str> = plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["action"] == "create")
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(planned, ["security_audit_log"]);
    let audit = plan["items"].as_array().unwrap().iter().find(|i| i["name"] == "security_audit_log").unwrap();
    assert!(audit["body"]["mappings"].get("_all").is_none());
    assert!(audit["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().contains("_all")));

    let bad = metadata("evaluate", "ES_5_6_Updates_Deletes", "rfs_snapshot", target.url(), &["--index", "(unclosed"]);
    assert!(!bad.success() && !bad.panicked(), "{bad:?}");
    assert!(bad.stderr.contains("not a valid regular expression"), "{bad:?}");
}

#[test]
fn a_live_cluster_is_a_source_too() {
    let source = Osmem::start();
    let target = Osmem::start();
    let put = |path: &str, body: Value| {
        let (status, answer) = http(source.url(), "PUT", path, Some(&body));
        assert_eq!(status, 200, "PUT {path}: {answer}");
    };
    put("/_component_template/shared", json!({"template": {"mappings": {"properties": {"ts": {"type": "date"}}}}}));
    put("/_index_template/events", json!({"index_patterns": ["events-*"], "composed_of": ["shared"], "priority": 5}));
    put("/_template/legacy", json!({"index_patterns": ["old-*"], "settings": {"number_of_shards": 1}}));
    put(
        "/orders",
        json!({"settings": {"number_of_shards": 2}, "mappings": {"properties": {"sku": {"type": "keyword"}}},
            "aliases": {"shop": {}}}),
    );
    let output = run_ferry(["metadata", "migrate", "--source", source.url(), "--target", target.url()]);
    output.assert_success("migrate from a live cluster");
    let (_, orders) = http(target.url(), "GET", "/orders", None);
    assert_eq!(orders["orders"]["mappings"]["properties"]["sku"]["type"], "keyword", "{orders}");
    assert_eq!(orders["orders"]["settings"]["index"]["number_of_shards"], "2", "{orders}");
    assert!(orders["orders"]["aliases"].get("shop").is_some(), "{orders}");
    for path in ["/_component_template/shared", "/_index_template/events", "/_template/legacy"] {
        assert_eq!(http(target.url(), "GET", path, None).0, 200, "{path}");
    }
}

#[test]
fn existing_items_are_kept_and_a_failing_item_fails_the_run_with_a_summary() {
    let target = Osmem::start();
    let (status, _) = http(target.url(), "PUT", "/_template/bwc_template", Some(&json!({"index_patterns": ["x*"]})));
    assert_eq!(status, 200);
    let output = metadata("migrate", "ES_7_10_BWC_Check", "rfs-snapshot", target.url(), &[]);
    output.assert_success("migrate over an existing template");
    assert!(output.stdout_str().contains("1 already existed"), "{output:?}");
    let (_, kept) = http(target.url(), "GET", "/_template/bwc_template", None);
    assert_eq!(kept["bwc_template"]["index_patterns"], json!(["x*"]), "an existing template was overwritten");

    let forced = metadata("migrate", "ES_7_10_BWC_Check", "rfs-snapshot", target.url(), &["--overwrite"]);
    forced.assert_success("migrate --overwrite");
    let (_, replaced) = http(target.url(), "GET", "/_template/bwc_template", None);
    assert_eq!(replaced["bwc_template"]["index_patterns"], json!(["bwc_index*"]));

    // The source's alias `shop` collides with an index of that name on the target: that item fails, the
    // others are still created, and the run exits non-zero with a summary.
    let source = Osmem::start();
    let target = Osmem::start();
    let (status, _) = http(source.url(), "PUT", "/orders", Some(&json!({"aliases": {"shop": {}}})));
    assert_eq!(status, 200);
    let (status, _) = http(target.url(), "PUT", "/shop", Some(&json!({})));
    assert_eq!(status, 200);
    let output = run_ferry(["metadata", "migrate", "--source", source.url(), "--target", target.url()]);
    assert!(!output.success() && !output.panicked(), "{output:?}");
    assert!(output.stderr.contains("1 of 2 items failed on the target"), "{output:?}");
    assert!(output.stdout_str().contains("FAILED"), "{output:?}");
    assert_eq!(http(target.url(), "GET", "/orders", None).0, 200);
}
