//! Ferry's Lucene reader against real Lucene 9.9 (Elasticsearch 8.x, OpenSearch 2.x) and 10.5 (Elasticsearch 9.x,
//! OpenSearch 3.x): indices written by `tests/oracle/LuceneOracle.java` the way a shard is written, in every
//! stored-fields mode, compound on and off, hard and soft deletes, many segments, read by `ferry lucene docs
//! --raw-source` and by Lucene itself, must yield the same live documents with byte-exact `_source`.
//!
//! The zstd configs use the oracle's re-implementations (`tests/oracle/lucene9/ZstdFormats.java`, not the products'
//! code) of Elasticsearch 8.14+'s `Zstd814StoredFieldsFormat` and OpenSearch custom-codecs' `zstd` /
//! `zstd_no_dict`, under the real codec, format and attribute names, since no real writer of them is installable
//! here. Lucene reads them back through the same re-implementations, so they check Ferry against the documented
//! layouts, not against Elasticsearch or OpenSearch themselves.

use std::fs;

use ferry_tests::{
    assert_clean_failure, assert_coverage, assert_matches_lucene, broken_copy, file_name, largest_with_extension,
    Lucene, Oracle,
};

macro_rules! oracle_config_tests {
    ($lucene:expr => $($test:ident => $config:literal, $min_big:literal;)*) => {$(
        #[test]
        fn $test() {
            let docs = assert_matches_lucene($lucene, $config);
            assert_coverage($config, &docs, $min_big);
        }
    )*};
}

/// Every config the Lucene 9.9 oracle can write, each tested below.
const LUCENE9_CONFIGS: [&str; 16] = [
    "compression-cfs-hard",
    "compression-cfs-soft",
    "compression-nocfs-hard",
    "compression-nocfs-soft",
    "deflate-tiny",
    "es-zstd-compression",
    "es-zstd-speed",
    "knn-zstd",
    "large",
    "lz4-tiny",
    "os-zstd",
    "os-zstd-no-dict",
    "speed-cfs-hard",
    "speed-cfs-soft",
    "speed-nocfs-hard",
    "speed-nocfs-soft",
];

/// Every config the Lucene 10.5 oracle can write, each tested below (the ES and k-NN zstd codecs are re-created
/// under their Lucene 9 era names only).
const LUCENE10_CONFIGS: [&str; 13] = [
    "compression-cfs-hard",
    "compression-cfs-soft",
    "compression-nocfs-hard",
    "compression-nocfs-soft",
    "deflate-tiny",
    "large",
    "lz4-tiny",
    "os-zstd",
    "os-zstd-no-dict",
    "speed-cfs-hard",
    "speed-cfs-soft",
    "speed-nocfs-hard",
    "speed-nocfs-soft",
];

mod lucene_9_9 {
    use super::*;

    oracle_config_tests! { Lucene::V9_9 =>
        speed_cfs_hard => "speed-cfs-hard", 1;
        speed_cfs_soft => "speed-cfs-soft", 1;
        speed_nocfs_hard => "speed-nocfs-hard", 1;
        speed_nocfs_soft => "speed-nocfs-soft", 1;
        compression_cfs_hard => "compression-cfs-hard", 1;
        compression_cfs_soft => "compression-cfs-soft", 1;
        compression_nocfs_hard => "compression-nocfs-hard", 1;
        compression_nocfs_soft => "compression-nocfs-soft", 1;
        lz4_tiny_chunks => "lz4-tiny", 0;
        deflate_tiny_chunks => "deflate-tiny", 0;
        elasticsearch_zstd_best_speed => "es-zstd-speed", 1;
        elasticsearch_zstd_best_compression => "es-zstd-compression", 1;
        opensearch_zstd => "os-zstd", 1;
        opensearch_zstd_no_dict => "os-zstd-no-dict", 1;
        opensearch_knn_codec_over_zstd => "knn-zstd", 1;
    }

    #[test]
    fn large_index_with_tens_of_thousands_of_docs() {
        let docs = assert_matches_lucene(Lucene::V9_9, "large");
        assert!(docs.len() >= 30_000, "large: only {} live docs", docs.len());
    }

    #[test]
    fn oracle_runs_lucene_9_9_and_tests_every_config() {
        let oracle = Oracle::get(Lucene::V9_9);
        assert_eq!(oracle.version_line(), Lucene::V9_9.expected_version_line());
        assert_eq!(oracle.configs(), LUCENE9_CONFIGS);
    }

    #[test]
    fn truncated_zstd_fdt_fails_naming_the_file() {
        let (_tmp, dir) = broken_copy(Lucene::V9_9, "es-zstd-speed");
        let fdt = largest_with_extension(&dir, "fdt");
        let bytes = fs::read(&fdt).expect("read .fdt");
        fs::write(&fdt, &bytes[..bytes.len() / 2]).expect("truncate .fdt");
        assert_clean_failure(&dir, &[&file_name(&fdt)]);
    }
}

mod lucene_10_5 {
    use super::*;

    oracle_config_tests! { Lucene::V10_5 =>
        speed_cfs_hard => "speed-cfs-hard", 1;
        speed_cfs_soft => "speed-cfs-soft", 1;
        speed_nocfs_hard => "speed-nocfs-hard", 1;
        speed_nocfs_soft => "speed-nocfs-soft", 1;
        compression_cfs_hard => "compression-cfs-hard", 1;
        compression_cfs_soft => "compression-cfs-soft", 1;
        compression_nocfs_hard => "compression-nocfs-hard", 1;
        compression_nocfs_soft => "compression-nocfs-soft", 1;
        lz4_tiny_chunks => "lz4-tiny", 0;
        deflate_tiny_chunks => "deflate-tiny", 0;
        opensearch_zstd => "os-zstd", 1;
        opensearch_zstd_no_dict => "os-zstd-no-dict", 1;
    }

    #[test]
    fn large_index_with_tens_of_thousands_of_docs() {
        let docs = assert_matches_lucene(Lucene::V10_5, "large");
        assert!(docs.len() >= 30_000, "large: only {} live docs", docs.len());
    }

    #[test]
    fn oracle_runs_lucene_10_5_and_tests_every_config() {
        let oracle = Oracle::get(Lucene::V10_5);
        assert_eq!(oracle.version_line(), Lucene::V10_5.expected_version_line());
        assert_eq!(oracle.configs(), LUCENE10_CONFIGS);
    }

    #[test]
    fn flipped_checksum_in_fdt_footer_fails_naming_the_file() {
        let (_tmp, dir) = broken_copy(Lucene::V10_5, "compression-nocfs-soft");
        let fdt = largest_with_extension(&dir, "fdt");
        let mut bytes = fs::read(&fdt).expect("read .fdt");
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        fs::write(&fdt, &bytes).expect("write .fdt");
        assert_clean_failure(&dir, &[&file_name(&fdt)]);
    }

    #[test]
    fn deleted_si_fails_naming_the_file() {
        let (_tmp, dir) = broken_copy(Lucene::V10_5, "speed-cfs-soft");
        let si = largest_with_extension(&dir, "si");
        fs::remove_file(&si).expect("delete .si");
        assert_clean_failure(&dir, &[&file_name(&si)]);
    }
}
