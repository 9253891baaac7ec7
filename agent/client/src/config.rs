//! What a [`Client`](crate::Client) connects to and how: the TOML-facing configuration.

use std::path::PathBuf;
use std::time::Duration;

use ferry_ops::Secret;
use serde::{Deserialize, Deserializer};

/// Where a cluster is and how to talk to it. Deserializes from TOML/JSON with unknown keys rejected; every
/// field but `url` has a default, and durations are given in seconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Base URL, `http://` or `https://`, with an optional path prefix (a cluster behind a reverse proxy).
    /// Credentials in the URL are refused: they belong in `auth`, where they are kept out of logs.
    pub url: String,
    /// How requests authenticate. Default: none.
    #[serde(default)]
    pub auth: Auth,
    /// Certificate trust for `https://` URLs. Default: the Mozilla (webpki) roots.
    #[serde(default)]
    pub tls: TlsOptions,
    /// Compress `_bulk` (NDJSON) request bodies with gzip. Default: false. Saves bandwidth at some CPU cost;
    /// every supported server version accepts `Content-Encoding: gzip` (`http.compression` is on by default).
    #[serde(default)]
    pub gzip: bool,
    /// Limit on one whole exchange (connect, send, the complete response). Default: 120 s, enough for a large
    /// `_bulk` on a busy cluster.
    #[serde(default = "default_request_timeout", deserialize_with = "seconds")]
    pub request_timeout: Duration,
    /// Idle keep-alive connections kept per host. Default: 16.
    #[serde(default = "default_max_idle_per_host")]
    pub max_idle_per_host: usize,
    /// How long an idle pooled connection is kept before it is closed. Default: 30 s, below the 60 s after
    /// which OpenSearch-like servers and many load balancers drop idle connections; a connection dropped
    /// earlier than this is still handled (the request is retried once on a fresh connection).
    #[serde(default = "default_idle_timeout", deserialize_with = "seconds")]
    pub idle_timeout: Duration,
}

impl ClusterConfig {
    /// A configuration for `url` with every other option at its default.
    pub fn new(url: impl Into<String>) -> ClusterConfig {
        ClusterConfig {
            url: url.into(),
            auth: Auth::None,
            tls: TlsOptions::default(),
            gzip: false,
            request_timeout: default_request_timeout(),
            max_idle_per_host: default_max_idle_per_host(),
            idle_timeout: default_idle_timeout(),
        }
    }
}

fn default_request_timeout() -> Duration {
    Duration::from_secs(120)
}

fn default_max_idle_per_host() -> usize {
    16
}

fn default_idle_timeout() -> Duration {
    Duration::from_secs(30)
}

/// Durations are configured as a number of seconds (integer or fractional).
fn seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let secs = f64::deserialize(deserializer)?;
    Duration::try_from_secs_f64(secs).map_err(|e| serde::de::Error::custom(format!("invalid duration {secs} s: {e}")))
}

/// How requests authenticate to the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Auth {
    /// No authentication.
    #[default]
    None,
    /// HTTP basic authentication (`Authorization: Basic …`).
    Basic {
        /// User name.
        username: String,
        /// Password; never printed.
        password: Secret,
    },
    /// AWS Signature Version 4, credentials from the standard AWS chain (environment, profile, web identity,
    /// container and instance metadata).
    #[serde(rename = "sigv4")]
    SigV4 {
        /// AWS region of the domain or collection, e.g. `eu-west-1`.
        region: String,
        /// Which AWS service signs: managed domains or Serverless collections.
        service: SigV4Service,
    },
}

/// The AWS service name a SigV4 signature is scoped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SigV4Service {
    /// Amazon OpenSearch Service (managed domains): service name `es`.
    Es,
    /// Amazon OpenSearch Serverless collections: service name `aoss`.
    Aoss,
}

impl SigV4Service {
    /// The service name that goes into the credential scope.
    pub fn name(self) -> &'static str {
        match self {
            SigV4Service::Es => "es",
            SigV4Service::Aoss => "aoss",
        }
    }
}

/// Certificate trust for `https://` clusters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsOptions {
    /// PEM file with the CA certificate(s) to trust instead of the built-in Mozilla roots (a self-signed
    /// cluster CA). Default: none.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate without verification. Default: false. For tests and emergencies only:
    /// anyone on the path can read and alter the traffic; a warning is logged when a client is built with it.
    #[serde(default)]
    pub insecure: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_to_a_bare_url() {
        let config: ClusterConfig = serde_json::from_str(r#"{"url": "http://127.0.0.1:9200"}"#).unwrap();
        assert_eq!(config.auth, Auth::None);
        assert_eq!(config.tls, TlsOptions::default());
        assert!(!config.gzip);
        assert_eq!(config.request_timeout, Duration::from_secs(120));
        assert_eq!(config.max_idle_per_host, 16);
        assert!(config.idle_timeout < Duration::from_secs(60), "idle connections must expire before servers drop them");
        let built = ClusterConfig::new("http://127.0.0.1:9200");
        assert_eq!((built.request_timeout, built.idle_timeout), (config.request_timeout, config.idle_timeout));
    }

    #[test]
    fn every_option_parses() {
        let config: ClusterConfig = serde_json::from_str(
            r#"{"url": "https://search.example:443", "gzip": true, "request_timeout": 2.5, "idle_timeout": 10,
                "max_idle_per_host": 4, "tls": {"ca_file": "/etc/ca.pem"},
                "auth": {"type": "basic", "username": "ferry", "password": "hunter2"}}"#,
        )
        .unwrap();
        assert!(config.gzip);
        assert_eq!(config.request_timeout, Duration::from_millis(2500));
        assert_eq!(config.idle_timeout, Duration::from_secs(10));
        assert_eq!(config.max_idle_per_host, 4);
        assert_eq!(config.tls.ca_file.as_deref(), Some(std::path::Path::new("/etc/ca.pem")));
        assert_eq!(config.auth, Auth::Basic { username: "ferry".into(), password: Secret::new("hunter2") });

        let sigv4: Auth =
            serde_json::from_str(r#"{"type": "sigv4", "region": "eu-west-1", "service": "aoss"}"#).unwrap();
        assert_eq!(sigv4, Auth::SigV4 { region: "eu-west-1".into(), service: SigV4Service::Aoss });
        assert_eq!(SigV4Service::Es.name(), "es");
    }

    #[test]
    fn unknown_and_malformed_options_are_rejected() {
        for bad in [
            r#"{"url": "http://h", "gzipp": true}"#,
            r#"{"url": "http://h", "tls": {"insecure": true, "verify": false}}"#,
            r#"{"url": "http://h", "auth": {"type": "basic", "username": "u", "password": "p", "realm": "x"}}"#,
            r#"{"url": "http://h", "auth": {"type": "sigv4", "region": "r", "service": "s3"}}"#,
            r#"{"url": "http://h", "request_timeout": -1}"#,
            r#"{"gzip": true}"#,
        ] {
            assert!(serde_json::from_str::<ClusterConfig>(bad).is_err(), "accepted {bad}");
        }
    }

    #[test]
    fn secrets_never_print() {
        let config: ClusterConfig = serde_json::from_str(
            r#"{"url": "http://h", "auth": {"type": "basic", "username": "ferry", "password": "hunter2"}}"#,
        )
        .unwrap();
        let debug = format!("{config:?} {:#?}", config.auth);
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("***"));
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret} {secret:?}"), "*** ***");
        assert_eq!(secret.expose(), "hunter2");
    }
}
