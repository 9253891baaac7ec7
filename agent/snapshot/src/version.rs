//! Version ids as Elasticsearch and OpenSearch record them in snapshot and index metadata
//! (`version_id: 7100299`, `index.version.created: "6082499"`), turned into the names people use.

/// OpenSearch sets this bit in its version ids so they never collide with Elasticsearch's
/// (`org.opensearch.Version.MASK`).
const OPENSEARCH_MASK: u32 = 0x0800_0000;

/// `7100299` → `7.10.2`; an OpenSearch id → `OpenSearch 2.11.0`. The id packs major·10⁶ + minor·10⁴ +
/// revision·10² + build; the build (99 for releases) is left out.
pub fn version_name(id: u32) -> String {
    let (product, id) = if id & OPENSEARCH_MASK != 0 { ("OpenSearch ", id ^ OPENSEARCH_MASK) } else { ("", id) };
    format!("{product}{}.{}.{}", id / 1_000_000, id / 10_000 % 100, id / 100 % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_fixture_versions() {
        assert_eq!(version_name(5061699), "5.6.16");
        assert_eq!(version_name(6082499), "6.8.24");
        assert_eq!(version_name(7100299), "7.10.2");
        assert_eq!(version_name(2110099 ^ OPENSEARCH_MASK), "OpenSearch 2.11.0");
    }
}
