//! The target cluster as far as the transformations care: product and version.

use std::fmt;

use ferry_client::{ClusterInfo, Distribution, Version};

/// Which transformation set applies: OpenSearch or Elasticsearch, and the version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// Elasticsearch or OpenSearch.
    pub distribution: Distribution,
    /// The target's version.
    pub version: Version,
}

impl Target {
    /// The target a cluster's `GET /` describes.
    pub fn from_info(info: &ClusterInfo) -> Target {
        Target { distribution: info.distribution, version: info.version }
    }

    /// An OpenSearch target of the given version.
    pub fn opensearch(major: u32, minor: u32) -> Target {
        Target { distribution: Distribution::OpenSearch, version: Version { major, minor, patch: 0 } }
    }

    /// An Elasticsearch target of the given version.
    pub fn elasticsearch(major: u32, minor: u32) -> Target {
        Target { distribution: Distribution::Elasticsearch, version: Version { major, minor, patch: 0 } }
    }

    /// Whether the target is OpenSearch (which has `knn_vector` and `flat_object` instead of Elastic's types).
    pub fn is_opensearch(&self) -> bool {
        self.distribution == Distribution::OpenSearch
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.distribution, self.version)
    }
}
