//! The Kafka section of a configuration file and its translation into librdkafka properties.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use ferry_ops::Secret;
use rdkafka::config::ClientConfig;
use serde::Deserialize;

use crate::error::{Error, Result};

/// Where captured traffic goes in Kafka and how to reach it.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap brokers, `host:port[,host:port…]`. Required.
    pub brokers: String,
    /// The topic of captured traffic (one per migration). Required.
    pub topic: String,
    /// Connect over TLS. Default: plaintext.
    #[serde(default)]
    pub tls: Option<KafkaTls>,
    /// Authenticate with SASL. Default: no authentication.
    #[serde(default)]
    pub sasl: Option<KafkaSasl>,
    /// Extra librdkafka properties (`linger.ms`, `message.timeout.ms`, …), applied last so they override
    /// Ferry's defaults and the settings above. Default: none.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

/// TLS towards the brokers (`security.protocol` `SSL` or `SASL_SSL`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaTls {
    /// PEM CA that signed the brokers' certificates. Default: the system's trust store.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// PEM client certificate, for brokers that require one. Needs `key`.
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert` (unencrypted).
    #[serde(default)]
    pub key: Option<PathBuf>,
}

/// SASL authentication (`security.protocol` `SASL_PLAINTEXT` or, with `tls`, `SASL_SSL`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSasl {
    /// `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`. Default `PLAIN`.
    #[serde(default = "default_mechanism")]
    pub mechanism: String,
    /// The user name.
    pub username: String,
    /// The password; never printed.
    pub password: Secret,
}

impl fmt::Debug for KafkaSasl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaSasl")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

impl fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Experts may pass credentials as raw properties too; their values are masked like `sasl.password`.
        let properties: BTreeMap<&str, &str> = self
            .properties
            .iter()
            .map(|(k, v)| (k.as_str(), if is_sensitive(k) { "***" } else { v.as_str() }))
            .collect();
        f.debug_struct("KafkaConfig")
            .field("brokers", &self.brokers)
            .field("topic", &self.topic)
            .field("tls", &self.tls)
            .field("sasl", &self.sasl)
            .field("properties", &properties)
            .finish()
    }
}

fn is_sensitive(property: &str) -> bool {
    ["password", "secret", "pem", "oauthbearer.config", "jaas"].iter().any(|s| property.contains(s))
}

fn default_mechanism() -> String {
    "PLAIN".to_string()
}

const MECHANISMS: [&str; 3] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

impl KafkaConfig {
    /// A plaintext, unauthenticated configuration for `brokers` and `topic`.
    pub fn new(brokers: &str, topic: &str) -> KafkaConfig {
        KafkaConfig {
            brokers: brokers.to_string(),
            topic: topic.to_string(),
            tls: None,
            sasl: None,
            properties: BTreeMap::new(),
        }
    }

    /// Every problem with this configuration, one line each (empty when it is valid). Checks the topic name,
    /// that TLS files exist, the SASL mechanism, and lets librdkafka check every property name and value,
    /// without connecting to anything.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.brokers.split(',').any(|b| b.trim().is_empty()) {
            problems.push(format!("brokers: {:?} is not a comma-separated list of host:port", self.brokers));
        }
        if let Err(e) = check_topic(&self.topic) {
            problems.push(format!("topic: {e}"));
        }
        if let Some(tls) = &self.tls {
            for (name, path) in [("ca", &tls.ca), ("cert", &tls.cert), ("key", &tls.key)] {
                if let Some(path) = path {
                    if !path.is_file() {
                        problems.push(format!("tls.{name}: {} is not a readable file", path.display()));
                    }
                }
            }
            if tls.cert.is_some() != tls.key.is_some() {
                problems.push("tls: `cert` and `key` go together".to_string());
            }
        }
        if let Some(sasl) = &self.sasl {
            if !MECHANISMS.contains(&sasl.mechanism.as_str()) {
                problems.push(format!("sasl.mechanism: {:?} is not one of {}", sasl.mechanism, MECHANISMS.join(", ")));
            }
        }
        if problems.is_empty() {
            if let Err(e) = self.client_config(&[]).create_native_config() {
                problems.push(format!("properties: {e}"));
            }
        }
        problems
    }

    /// [`problems`](Self::problems) as a `Result`.
    pub fn validate(&self) -> Result<()> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Config { problems })
        }
    }

    /// The librdkafka configuration: `defaults` (a role's settings), then the connection settings of this
    /// configuration, then the user's `properties`, each overriding the ones before.
    pub(crate) fn client_config(&self, defaults: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        for (key, value) in defaults {
            config.set(*key, *value);
        }
        config.set("bootstrap.servers", &self.brokers);
        let protocol = match (&self.tls, &self.sasl) {
            (None, None) => "plaintext",
            (Some(_), None) => "ssl",
            (None, Some(_)) => "sasl_plaintext",
            (Some(_), Some(_)) => "sasl_ssl",
        };
        config.set("security.protocol", protocol);
        if let Some(tls) = &self.tls {
            let files =
                [("ssl.ca.location", &tls.ca), ("ssl.certificate.location", &tls.cert), ("ssl.key.location", &tls.key)];
            for (key, path) in files {
                if let Some(path) = path {
                    config.set(key, path.to_string_lossy());
                }
            }
        }
        if let Some(sasl) = &self.sasl {
            config.set("sasl.mechanism", &sasl.mechanism);
            config.set("sasl.username", &sasl.username);
            config.set("sasl.password", sasl.password.expose());
        }
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
    }
}

/// Kafka's own rule for topic names: 1–249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
fn check_topic(topic: &str) -> std::result::Result<(), String> {
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if topic.is_empty() || topic.len() > 249 || topic == "." || topic == ".." || !topic.chars().all(legal) {
        return Err(format!("{topic:?} is not a legal Kafka topic name (1-249 characters of a-z A-Z 0-9 . _ -)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_section_parses_and_maps_to_librdkafka_properties() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "x").unwrap();
        let text = format!(
            r#"
            brokers = "b1:9092,b2:9092"
            topic = "logging-traffic"
            tls = {{ ca = "{}" }}
            sasl = {{ mechanism = "SCRAM-SHA-512", username = "ferry", password = "hunter2" }}
            properties = {{ "linger.ms" = "0" }}
            "#,
            ca.display()
        );
        let config: KafkaConfig = toml::from_str(&text).unwrap();
        assert!(config.problems().is_empty(), "{:?}", config.problems());
        let client = config.client_config(&[("linger.ms", "5"), ("acks", "all")]);
        assert_eq!(client.get("bootstrap.servers"), Some("b1:9092,b2:9092"));
        assert_eq!(client.get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(client.get("ssl.ca.location"), ca.to_str());
        assert_eq!(client.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(client.get("sasl.password"), Some("hunter2"));
        assert_eq!(client.get("linger.ms"), Some("0"), "user properties override the role's defaults");
        assert_eq!(client.get("acks"), Some("all"));
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let mut config: KafkaConfig = toml::from_str(
            r#"
            brokers = "b:9092"
            topic = "t"
            sasl = { username = "ferry", password = "hunter2" }
            properties = { "ssl.key.password" = "swordfish", "linger.ms" = "7" }
            "#,
        )
        .unwrap();
        config.properties.insert("sasl.oauthbearer.config".into(), "principal=x secret=y".into());
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2") && !debug.contains("swordfish") && !debug.contains("secret=y"), "{debug}");
        assert!(debug.contains("ferry") && debug.contains("\"7\""), "{debug}");
        assert_eq!(config.sasl.as_ref().map(|s| s.mechanism.as_str()), Some("PLAIN"));
        assert_eq!(format!("{}", Secret::new("x")), "***");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = r#"
            brokers = "b:9092,"
            topic = "no spaces"
            tls = { cert = "/nonexistent/cert.pem" }
            sasl = { mechanism = "GSSAPI", username = "u", password = "p" }
        "#;
        let config: KafkaConfig = toml::from_str(text).unwrap();
        let problems = config.problems();
        assert_eq!(problems.len(), 5, "{problems:?}");
        let all = problems.join("\n");
        for needle in ["brokers", "topic", "tls.cert", "`cert` and `key`", "GSSAPI"] {
            assert!(all.contains(needle), "{needle} missing from {all}");
        }
        assert!(matches!(config.validate(), Err(Error::Config { problems }) if problems.len() == 5));
    }

    #[test]
    fn librdkafka_rejects_unknown_and_malformed_properties_before_connecting() {
        let mut config = KafkaConfig::new("127.0.0.1:1", "t");
        config.properties.insert("no.such.property".into(), "1".into());
        let problems = config.problems();
        assert!(problems.len() == 1 && problems[0].contains("no.such.property"), "{problems:?}");
        let mut config = KafkaConfig::new("127.0.0.1:1", "t");
        config.properties.insert("linger.ms".into(), "soon".into());
        assert_eq!(config.problems().len(), 1);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = toml::from_str::<KafkaConfig>("brokers = \"b:1\"\ntopic = \"t\"\nbroker = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
}
