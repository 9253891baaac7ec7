//! What `GET /` says about a cluster: which product, which version.

use std::fmt;

use serde_json::Value;

/// The product behind a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distribution {
    /// Elasticsearch (any version), including Amazon OpenSearch Service domains running Elasticsearch.
    Elasticsearch,
    /// OpenSearch (`version.distribution` is `opensearch`).
    OpenSearch,
}

impl fmt::Display for Distribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Distribution::Elasticsearch => "Elasticsearch",
            Distribution::OpenSearch => "OpenSearch",
        })
    }
}

/// A release version; pre-release suffixes (`-SNAPSHOT`, `-rc1`) are dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch version.
    pub patch: u32,
}

impl Version {
    /// Parses `7.10.2`, `8.0.0-SNAPSHOT`, `2.11.0-rc1`; missing minor or patch numbers read as 0.
    pub fn parse(text: &str) -> Option<Version> {
        let release = text.split(['-', '+']).next().unwrap_or_default();
        let mut parts = release.split('.');
        // `split` yields at least one part, so the major number is never defaulted.
        let mut number = || parts.next().map_or(Some(0), |part| part.parse().ok());
        Some(Version { major: number()?, minor: number()?, patch: number()? })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A cluster's identity from `GET /`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterInfo {
    /// Elasticsearch or OpenSearch.
    pub distribution: Distribution,
    /// `version.number`.
    pub version: Version,
    /// `cluster_name`.
    pub cluster_name: String,
    /// The whole response, for anything else (build flavour, Lucene version, tagline).
    pub raw: Value,
}

impl ClusterInfo {
    /// Reads the `GET /` body; the error says which field is missing or malformed.
    pub fn from_json(raw: Value) -> Result<ClusterInfo, String> {
        let version = raw.get("version").ok_or("no \"version\" object: not an Elasticsearch/OpenSearch root")?;
        let number =
            version.get("number").and_then(Value::as_str).ok_or("no string \"version.number\" in the response")?;
        let parsed = Version::parse(number).ok_or_else(|| format!("version.number {number:?} is not x.y.z"))?;
        let distribution = match version.get("distribution").and_then(Value::as_str) {
            Some(d) if d.eq_ignore_ascii_case("opensearch") => Distribution::OpenSearch,
            _ => Distribution::Elasticsearch,
        };
        let cluster_name = raw.get("cluster_name").and_then(Value::as_str).unwrap_or_default().to_string();
        Ok(ClusterInfo { distribution, version: parsed, cluster_name, raw })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(json: &str) -> Result<ClusterInfo, String> {
        ClusterInfo::from_json(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn root_responses_of_each_product() {
        let es56 = info(r#"{"name":"n1","cluster_name":"legacy","cluster_uuid":"u","version":{"number":"5.6.16","build_hash":"3a740d1","lucene_version":"6.6.1"},"tagline":"You Know, for Search"}"#).unwrap();
        assert_eq!(
            (es56.distribution, es56.version, es56.cluster_name.as_str()),
            (Distribution::Elasticsearch, Version { major: 5, minor: 6, patch: 16 }, "legacy")
        );
        let es8 = info(
            r#"{"cluster_name":"c","version":{"number":"8.15.0","build_flavor":"default","lucene_version":"9.11.1"}}"#,
        )
        .unwrap();
        assert_eq!((es8.distribution, es8.version.to_string()), (Distribution::Elasticsearch, "8.15.0".to_string()));
        let os = info(r#"{"cluster_name":"osmem","version":{"distribution":"opensearch","number":"3.8.0","lucene_version":"10.5.0"}}"#).unwrap();
        assert_eq!((os.distribution, os.version), (Distribution::OpenSearch, Version { major: 3, minor: 8, patch: 0 }));
        assert_eq!(os.raw["version"]["lucene_version"], "10.5.0");
        // OpenSearch in compatibility mode reports 7.10.2 but keeps its distribution.
        let compat = info(r#"{"cluster_name":"c","version":{"distribution":"opensearch","number":"7.10.2"}}"#).unwrap();
        assert_eq!(compat.distribution, Distribution::OpenSearch);
    }

    #[test]
    fn non_cluster_bodies_are_errors() {
        assert!(info(r#"{"status":"ok"}"#).unwrap_err().contains("version"));
        assert!(info(r#"{"version":{"number":7}}"#).unwrap_err().contains("version.number"));
        assert!(info(r#"{"version":{"number":"seven"}}"#).unwrap_err().contains("seven"));
    }

    #[test]
    fn version_parsing() {
        assert_eq!(Version::parse("8.0.0-SNAPSHOT"), Some(Version { major: 8, minor: 0, patch: 0 }));
        assert_eq!(Version::parse("2.11.0-rc1"), Some(Version { major: 2, minor: 11, patch: 0 }));
        assert_eq!(Version::parse("7"), Some(Version { major: 7, minor: 0, patch: 0 }));
        assert_eq!(Version::parse(""), None);
        assert_eq!(Version::parse("7.x"), None);
        assert!(Version::parse("6.8.23") < Version::parse("7.0.0"));
    }
}
