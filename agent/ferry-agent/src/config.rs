//! The agent's configuration file: one optional section per role, each deserialized into that role's own
//! configuration type, and no other keys (`deny_unknown_fields`).

use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;

use crate::roles::Role;

/// `/etc/ferry/agent.toml`. A role runs when its section is present.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// `[capture]`: the capture proxy in front of this node (see `ferry_capture::Config`).
    #[serde(default)]
    capture: Option<ferry_capture::Config>,
    /// `[replay]`: replays captured traffic against the target (see `ferry_replay::Config`).
    #[serde(default)]
    replay: Option<ferry_replay::Config>,
}

impl AgentConfig {
    /// Reads `path` and returns the roles it enables, after validating each; every problem is reported at once,
    /// naming the file and the key (`capture.listen`) it is about.
    pub fn load(path: &Path) -> anyhow::Result<Vec<Role>> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        AgentConfig::parse(&text).with_context(|| format!("invalid configuration {}", path.display()))
    }

    fn parse(text: &str) -> anyhow::Result<Vec<Role>> {
        let roles = toml::from_str::<AgentConfig>(text)?.into_roles();
        anyhow::ensure!(!roles.is_empty(), "no role is enabled: add a [capture] or [replay] section");
        let problems: Vec<String> = roles.iter().flat_map(Role::validate).collect();
        anyhow::ensure!(problems.is_empty(), "{}", problems.join("\n"));
        Ok(roles)
    }

    /// The roles to run, in a fixed order.
    fn into_roles(self) -> Vec<Role> {
        // Destructured so that a new section cannot be forgotten here.
        let AgentConfig { capture, replay } = self;
        let mut roles = Vec::new();
        roles.extend(capture.map(|config| Role::Capture(Box::new(config))));
        roles.extend(replay.map(|config| Role::Replay(Box::new(config))));
        roles
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPTURE: &str = "[capture]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://127.0.0.1:9200\"\n\
                           [capture.capture]\nlog_dir = \"/var/lib/ferry/capture\"\n";

    fn error(text: &str) -> String {
        format!("{:#}", AgentConfig::parse(text).expect_err("the configuration is rejected"))
    }

    #[test]
    fn a_capture_section_enables_the_capture_role() {
        let roles = AgentConfig::parse(CAPTURE).expect("valid");
        let names: Vec<&str> = roles.iter().map(Role::name).collect();
        assert_eq!(names, ["capture"]);
    }

    #[test]
    fn a_replay_section_enables_the_replay_role_beside_capture() {
        let replay = "[replay]\nresults = \"/var/lib/ferry/results.ndjson\"\nsource = { type = \"log\", dir = \"/var/lib/ferry/capture\" }\n\
                      target = { url = \"http://127.0.0.1:9200\" }\n";
        let roles = AgentConfig::parse(&format!("{replay}{CAPTURE}")).expect("valid");
        let names: Vec<&str> = roles.iter().map(Role::name).collect();
        assert_eq!(names, ["capture", "replay"]);
        let bad = error(&replay.replace("results =", "speedup = -1.0\nresults ="));
        assert!(bad.contains("replay: ") && bad.contains("speedup"), "{bad}");
    }

    #[test]
    fn the_packaged_example_is_valid() {
        let example = include_str!("../../../packaging/agent.example.toml");
        let roles = AgentConfig::parse(example).expect("the example parses");
        assert_eq!(roles.len(), 1);
    }

    #[test]
    fn unknown_keys_are_named_at_the_top_level_and_inside_a_role() {
        let top = error(&format!("replay_speed = 2\n{CAPTURE}"));
        assert!(top.contains("unknown field `replay_speed`"), "{top}");
        let nested = error(&CAPTURE.replace("listen =", "listne ="));
        assert!(nested.contains("unknown field `listne`"), "{nested}");
    }

    #[test]
    fn a_missing_required_key_is_named() {
        let e = error(&CAPTURE.replace("upstream = \"http://127.0.0.1:9200\"\n", ""));
        assert!(e.contains("missing field `upstream`"), "{e}");
    }

    #[test]
    fn no_role_is_an_error() {
        assert!(error("").contains("no role is enabled"));
    }

    #[test]
    fn every_invalid_value_is_reported_with_its_full_key() {
        let text = CAPTURE.replace("127.0.0.1:0", "nowhere").replace("http://127.0.0.1:9200", "ftp://x")
            + "fsync = \"sometimes\"\n";
        let e = error(&text);
        for key in ["capture.listen:", "capture.upstream:", "capture.capture.fsync:"] {
            assert!(e.contains(key), "{key} missing from {e}");
        }
    }
}
