#!/usr/bin/env bash
# Replay throughput benchmark: `ferry replay --as-fast-as-possible` (release build, pinned to one core) reading a
# synthetic capture log into
#   (a) a discard endpoint: nginx (one worker, on another core) answering every request `200 {}` after reading its
#       whole body (njs `js_content`, as Elasticsearch answers only after the body), so Ferry's own ceiling is
#       measured, comparison included (every response then mismatches: the comparer does its full work), and
#   (b) osmem-server (a real OpenSearch-compatible target, on another core; index `bench` with `dynamic: false`
#       so the server indexes two small fields, not the 1-4 KB text).
# The capture is written record by record with ferry_capture_log::LogWriter by the ignored test
# `generate_bench_capture` in tests/tests/replay_e2e.rs: one TrafficStream per exchange as the proxy writes them,
# 4 in 5 requests a `_bulk` of 5 documents of 1-4 KB (about 2.5 KB on average), 1 in 5 a small search, spread over
# 16 connections, timestamped at a captured rate of RATE requests/s; responses are OpenSearch-shaped.
# Reports requests/s, docs/s, MB/s of request bytes, CPU seconds, peak RSS and the catch-up factor (replay rate /
# captured rate), as a Markdown table.
#
#   tests/bench/replay.sh                      both targets
#   TARGETS=discard tests/bench/replay.sh      only the discard endpoint
#
# Environment: FERRY_BENCH_CACHE (default /var/tmp/ferry-bench; captures are cached there), DISCARD_REQUESTS
# (default 200000), OSMEM_REQUESTS (default 20000: osmem keeps every document in memory), RATE (default 2000),
# IN_FLIGHT (passed as --max-in-flight when set), EXTRA_ARGS (more `ferry replay` flags, e.g. --no-causal-order;
# shown in the Target column), CPU (default 0, ferry's core), SERVER_CPU (default 1),
# FERRY_CACHE (where scripts/setup put the osmem venv), CARGO_TARGET_DIR (default /work/target-bench), FERRY_BIN (a
# release ferry to use instead of building one).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${FERRY_BENCH_CACHE:-/var/tmp/ferry-bench}
targets=${TARGETS:-discard osmem}
discard_requests=${DISCARD_REQUESTS:-200000}
osmem_requests=${OSMEM_REQUESTS:-20000}
rate=${RATE:-2000}
cpu=${CPU:-0}
server_cpu=${SERVER_CPU:-1}
osmem=${FERRY_CACHE:-/var/tmp/ferry-cache}/venv/lib/python3.11/site-packages/osmem_server/bin/osmem-server
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target-bench}

for tool in taskset python3 cargo nginx /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
njs=/usr/lib/nginx/modules/ngx_http_js_module.so
[ -f "$njs" ] || { echo "missing $njs (apt-get install -y libnginx-mod-http-js)" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_http() { # url: poll until it answers, at most 30 s
    for _ in $(seq 300); do
        python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "no answer from $1" >&2
    return 1
}

json_field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

if [ -n "${FERRY_BIN:-}" ]; then
    ferry=$FERRY_BIN
else
    echo "building ferry (release) into $CARGO_TARGET_DIR" >&2
    (cd "$repo" && cargo build --release -q -p ferry-cli)
    ferry=$CARGO_TARGET_DIR/release/ferry
fi

capture_for() { # requests → a cached capture log directory of that many requests; its totals in <dir>.json
    local dir=$cache/replay-capture-$1-$rate
    if [ ! -f "$dir.json" ]; then
        rm -rf "$dir"
        mkdir -p "$cache"
        echo "generating a capture of $1 requests into $dir" >&2
        (cd "$repo" && FERRY_BENCH_CAPTURE=$dir FERRY_BENCH_REQUESTS=$1 FERRY_BENCH_RATE=$rate \
            cargo test --release -q -p ferry-tests --test replay_e2e -- --ignored --exact generate_bench_capture \
            --nocapture 2>/dev/null) | grep '^{' >"$dir.json.tmp"
        mv "$dir.json.tmp" "$dir.json"
    fi
    echo "$dir"
}

work=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

start_discard() { # port
    mkdir -p "$work/nginx"
    cat >"$work/nginx/discard.js" <<'EOF'
function discard(r) {
    r.headersOut['Content-Type'] = 'application/json';
    r.return(200, '{}');
}
export default { discard };
EOF
    cat >"$work/nginx/discard.conf" <<EOF
load_module $njs;
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    client_max_body_size 0;
    client_body_buffer_size 4m;
    js_path $work/nginx;
    js_import discard.js;
    server {
        listen 127.0.0.1:$1 backlog=4096;
        location / { js_content discard.discard; }
    }
}
EOF
    taskset -c "$server_cpu" nginx -e "$work/nginx/error.log" -c "$work/nginx/discard.conf" &
    server_pid=$!
}

start_osmem() { # port
    [ -x "$osmem" ] || { echo "osmem-server missing at $osmem: run scripts/setup" >&2; exit 1; }
    taskset -c "$server_cpu" "$osmem" -addr "127.0.0.1:$1" -no-stdin-watch >/dev/null 2>&1 &
    server_pid=$!
    wait_http "http://127.0.0.1:$1/"
    python3 - "$1" <<'EOF'
import json, sys, urllib.request
body = {"mappings": {"dynamic": False, "properties": {"kind": {"type": "keyword"}, "n": {"type": "long"}}},
        "settings": {"number_of_shards": 1, "number_of_replicas": 0}}
request = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/bench", json.dumps(body).encode(), method="PUT",
                                 headers={"Content-Type": "application/json"})
urllib.request.urlopen(request).read()
EOF
}

echo "| Target | Requests | Docs | Request MB | Wall s | Requests/s | Docs/s | MB/s | CPU s (user+sys) | Peak RSS MB | Catch-up × $rate req/s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for target in $targets; do
    case $target in
        discard) capture=$(capture_for "$discard_requests") ;;
        osmem) capture=$(capture_for "$osmem_requests") ;;
        *) echo "unknown target $target" >&2; exit 1 ;;
    esac
    totals=$(cat "$capture.json")
    port=$(free_port)
    "start_$target" "$port"
    wait_http "http://127.0.0.1:$port/"
    cat "$capture"/* >/dev/null # warm the page cache
    rm -rf "$work/state" "$work/results.ndjson"
    extra=()
    [ -n "${IN_FLIGHT:-}" ] && extra=(--max-in-flight "$IN_FLIGHT")
    # shellcheck disable=SC2206 # split on purpose: several flags
    [ -n "${EXTRA_ARGS:-}" ] && extra+=($EXTRA_ARGS)
    /usr/bin/time -f '%e %U %S %M' -o "$work/time" taskset -c "$cpu" "$ferry" replay --log "$capture" \
        --target "http://127.0.0.1:$port" --out "$work/results.ndjson" --state "$work/state" \
        --as-fast-as-possible "${extra[@]}" 2>"$work/stderr" || { cat "$work/stderr" >&2; exit 1; }
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
    tail -n 12 "$work/stderr" >&2
    lines=$(wc -l <"$work/results.ndjson")
    read -r wall user sys rss_kb <"$work/time"
    python3 - "$target${EXTRA_ARGS:+ $EXTRA_ARGS}" "$totals" "$wall" "$user" "$sys" "$rss_kb" "$lines" "$rate" <<'EOF'
import json, sys
target, totals, wall, user, sys_s, rss_kb, lines, rate = sys.argv[1:]
t = json.loads(totals)
wall, cpu = float(wall), float(user) + float(sys_s)
requests = t["requests"]
if int(lines) != requests:
    print(f"warning: {lines} results lines for {requests} requests", file=sys.stderr)
mb = t["request_bytes"] / 1e6
print(f"| {target} | {requests} | {t['docs']} | {mb:.0f} | {wall:.1f} | {requests / wall:,.0f} | {t['docs'] / wall:,.0f} "
      f"| {mb / wall:.1f} | {cpu:.1f} | {int(rss_kb) / 1024:.0f} | {requests / wall / float(rate):.1f}× |")
EOF
done
