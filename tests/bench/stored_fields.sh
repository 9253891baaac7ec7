#!/usr/bin/env bash
# Stored-fields read benchmark: Ferry (`ferry lucene scan`, release build) against Lucene 8.8's fastest sequential
# reader (the stored-fields merge instance), single core, warm page cache, best of N.
#
#   tests/bench/stored_fields.sh                 generate (cached) both indices, run, print a Markdown table
#   DOCS=200000 RUNS=5 tests/bench/stored_fields.sh
#   GENERATE_ONLY=1 tests/bench/stored_fields.sh   only build the (cached) indices
#
# Environment: FERRY_BENCH_CACHE (default /var/tmp/ferry-bench; indices are ~1.3 GB each, kept outside the repo),
# DOCS (default 1100000 ≈ 1.1 GB of _source), RUNS (default 3), MODES (default "speed compression"), CPU (default 0),
# FERRY_LUCENE_JARS (default /usr/share/java), CARGO_TARGET_DIR (where the release `ferry` is built).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${FERRY_BENCH_CACHE:-/var/tmp/ferry-bench}
docs=${DOCS:-1100000}
runs=${RUNS:-3}
modes=${MODES:-speed compression}
cpu=${CPU:-0}
jars=${FERRY_LUCENE_JARS:-/usr/share/java}
target=${CARGO_TARGET_DIR:-$repo/target}

for tool in java javac taskset python3 cargo; do
    command -v "$tool" >/dev/null || { echo "missing $tool (Java 17, liblucene8-java: run scripts/setup)" >&2; exit 1; }
done
core=$(ls "$jars"/lucene-core-8*.jar | head -1)
backward=$(ls "$jars"/lucene-backward-codecs-8*.jar | head -1)

mkdir -p "$cache"
hash=$(cat "$repo"/tests/oracle/*.java | sha256sum | cut -c1-16)
classes=$cache/classes-$hash
if [ ! -d "$classes" ]; then
    javac -encoding UTF-8 -d "$classes.tmp" -cp "$core:$backward" "$repo"/tests/oracle/*.java
    mv "$classes.tmp" "$classes"
fi
cp="$classes:$core:$backward"

for mode in $modes; do
    index=$cache/index-$mode-$docs-$hash
    if [ ! -f "$index.done" ]; then
        echo "generating $index ($docs docs, $mode)" >&2
        rm -rf "$index"
        java -Xmx4g -cp "$cp" LuceneOracle bench-generate "$index" --mode "$mode" --docs "$docs"
        rm -f "$index/write.lock"
        touch "$index.done"
    fi
done
[ -n "${GENERATE_ONLY:-}" ] && exit 0

echo "building ferry (release) into $target" >&2
(cd "$repo" && CARGO_TARGET_DIR=$target cargo build --release -q -p ferry-cli)
ferry=$target/release/ferry

results=$cache/results.jsonl
: >"$results"
for mode in $modes; do
    index=$cache/index-$mode-$docs-$hash
    cat "$index"/* >/dev/null # warm the page cache

    lucene=$(taskset -c "$cpu" java -Xmx2g -cp "$cp" LuceneOracle bench-read "$index" --runs "$runs")
    best_ns="" best_scan=""
    for _ in $(seq "$runs"); do
        start=$(date +%s%N)
        scan=$(taskset -c "$cpu" "$ferry" lucene scan "$index" --json)
        elapsed=$(($(date +%s%N) - start))
        echo "ferry run: $((elapsed / 1000000)) ms $scan" >&2
        if [ -z "$best_ns" ] || [ "$elapsed" -lt "$best_ns" ]; then best_ns=$elapsed best_scan=$scan; fi
    done
    python3 - "$mode" "$index" "$lucene" "$best_scan" "$best_ns" >>"$results" <<'EOF'
import json, os, sys
mode, index, best_ns = sys.argv[1], sys.argv[2], int(sys.argv[5])
lucene, scan = json.loads(sys.argv[3]), json.loads(sys.argv[4])
if lucene["docs"] != scan["docs"] or lucene["source_bytes"] != scan["source_bytes"]:
    sys.exit(f"{mode}: ferry and Lucene disagree: lucene={lucene} ferry={scan}")
size = sum(os.path.getsize(os.path.join(index, f)) for f in os.listdir(index))
print(json.dumps({"mode": mode, "docs": lucene["docs"], "source_bytes": lucene["source_bytes"],
    "segments": lucene["segments"], "index_bytes": size, "lucene_ms": lucene["elapsed_ms"],
    "ferry_ms": best_ns / 1e6, "ferry_internal_ms": scan.get("elapsed_ms")}))
EOF
done

python3 - "$results" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| mode | live docs | _source MB | index MB | Lucene docs/s | Lucene MB/s | Ferry docs/s | Ferry MB/s"
      " | Ferry/Lucene |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    mb = r["source_bytes"] / 1e6
    l, f = r["lucene_ms"] / 1e3, r["ferry_ms"] / 1e3
    print(f"| {r['mode']} | {r['docs']:,} | {mb:,.0f} | {r['index_bytes'] / 1e6:,.0f} | {r['docs'] / l:,.0f} | "
          f"{mb / l:,.0f} | {r['docs'] / f:,.0f} | {mb / f:,.0f} | {l / f:.2f}× |")
EOF
