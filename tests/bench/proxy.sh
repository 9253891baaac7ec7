#!/usr/bin/env bash
# Capture-proxy benchmark (issue 5): latency at a fixed rate and maximum throughput, on loopback only, for
#   direct        client → upstream
#   nginx         client → nginx, a plain reverse proxy (no capture, keep-alive to the upstream, bodies streamed)
#   ferry         client → `ferry capture` writing the local capture log (default fsync policy: every second)
#   ferry-kafka   client → `ferry capture --kafka` producing to a tansu broker (when the binary has --kafka)
# with small requests (GET of a 181-byte document), `_bulk`-like writes (POST ~100 KB NDJSON) and large writes
# (POST of a 1 MiB document). The upstream is nginx answering by itself (tests/bench/proxy/upstream.conf), so the
# proxy and not the upstream is measured; UPSTREAMS=osmem adds osmem-server (small requests only).
#
#   tests/bench/proxy.sh                              everything, 3 rounds, prints the Markdown tables
#   ROUNDS=1 ROUTES="direct ferry" SIZES=small tests/bench/proxy.sh
#   APPEND=1 ROUTES="nginx ferry" tests/bench/proxy.sh   add runs to the recorded ones (e.g. when the machine is quiet)
#   TABLE_ONLY=1 tests/bench/proxy.sh                 the tables from the recorded results
#
# Latency: oha at a constant rate (`-q`, with `--latency-correction`, so a stalled response delays the schedule's
# later requests instead of hiding them: no coordinated omission). Throughput: wrk, closed loop, one thread.
# Pinning (2 cores): the proxy under test gets core PROXY_CPU (default 0) to itself (nginx with one worker; Ferry's
# tokio runtime then has one worker thread, beside its capture-log writer thread); the load generator, the upstream
# and the Kafka broker share LOAD_CPU (default 1). The direct route uses LOAD_CPU only.
# Priority: as root, every process of the benchmark runs at `nice -n NICE` (default -20), so on a machine shared
# with other jobs the scheduler preempts those jobs rather than the processes measured (NICE= to turn it off).
#
# Environment: ROUNDS (default 3; the routes alternate within a round so they see the same machine load), ROUTES,
# SIZES (small bulk large), UPSTREAMS (default "nginx osmem"), RATE_SECS (default 15) and MAX_SECS (default 10) per
# run, RATE_SMALL (2000), RATE_BULK (200), RATE_LARGE (50) req/s, CONNS_SMALL (16), CONNS_BULK (8), CONNS_LARGE
# (4) connections (the rate runs use the same), PROXY_CPU, LOAD_CPU, FERRY_BENCH_CACHE (default
# /var/tmp/ferry-bench: results, bodies, the capture log while it runs), FERRY_CACHE (the osmem venv of
# scripts/setup), CARGO_TARGET_DIR or FERRY_BIN (a release `ferry` to use instead of building one), OHA (path).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
here=$repo/tests/bench/proxy
cache=${FERRY_BENCH_CACHE:-/var/tmp/ferry-bench}
rounds=${ROUNDS:-3}
routes=${ROUTES:-direct nginx ferry ferry-kafka}
sizes=${SIZES:-small bulk large}
upstreams=${UPSTREAMS:-nginx osmem}
rate_secs=${RATE_SECS:-15}
max_secs=${MAX_SECS:-10}
proxy_cpu=${PROXY_CPU:-0}
load_cpu=${LOAD_CPU:-1}
osmem=${FERRY_CACHE:-/var/tmp/ferry-cache}/venv/lib/python3.11/site-packages/osmem_server/bin/osmem-server
target_dir=${CARGO_TARGET_DIR:-$repo/target}
prio=()
if [ "$(id -u)" = 0 ] && [ -n "${NICE--20}" ]; then prio=(nice -n "${NICE--20}"); fi
results=$cache/proxy-results.jsonl
mkdir -p "$cache"

if [ -n "${TABLE_ONLY:-}" ]; then
    python3 "$here/results.py" table "$results"
    exit 0
fi

# Tools, installed once (apt as root; oha with cargo into ~/.cargo/bin: 4 min on a quiet machine, 21 here).
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null || [ ! -f /usr/lib/nginx/modules/ngx_http_js_module.so ]; then
    [ "$(id -u)" = 0 ] || { echo "need nginx, wrk and libnginx-mod-http-js (apt-get, as root)" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx wrk libnginx-mod-http-js >&2
fi
oha=${OHA:-$(command -v oha || echo "$HOME/.cargo/bin/oha")}
if [ ! -x "$oha" ]; then
    echo "installing oha (cargo install oha --locked)" >&2
    CARGO_TARGET_DIR=${OHA_TARGET_DIR:-/var/tmp/oha-target} cargo install oha --locked >&2
    oha=$HOME/.cargo/bin/oha
fi
for tool in taskset python3 curl; do
    command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
tansu=$(command -v tansu || echo "$HOME/.cargo/bin/tansu")

if [ -n "${FERRY_BIN:-}" ]; then
    ferry=$FERRY_BIN
else
    echo "building ferry (release) into $target_dir" >&2
    (cd "$repo" && CARGO_TARGET_DIR=$target_dir cargo build --release -q -p ferry-cli)
    ferry=$target_dir/release/ferry
fi
if "$ferry" capture --help | grep -q -- '--kafka'; then kafka=1; else kafka=""; fi

work=$(mktemp -d)
chmod 755 "$work"
capture_log=$cache/proxy-capture-log.$$
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work" "$capture_log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start() { # start CMD...: runs it in the background, remembered for cleanup; sets $pid
    "$@" &
    pid=$!
    pids+=("$pid")
}

stop() { # stop PID
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    local kept=()
    for p in "${pids[@]}"; do [ "$p" = "$1" ] || kept+=("$p"); done
    pids=("${kept[@]}")
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_http() { # url: poll until it answers, at most 30 s
    for _ in $(seq 300); do
        curl -s -o /dev/null "$1" && return 0
        sleep 0.1
    done
    echo "no answer from $1" >&2
    return 1
}

wait_tcp() { # port
    for _ in $(seq 300); do
        python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$1" 2>/dev/null &&
            return 0
        sleep 0.1
    done
    echo "nothing listens on 127.0.0.1:$1" >&2
    return 1
}

# nginx runs in the foreground (daemon off) from its own config, pid and logs in $work; as root, under setpriv as
# `nobody`, so it is never privileged.
unprivileged=()
if [ "$(id -u)" = 0 ]; then
    unprivileged=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    chown nobody "$work"
fi

start_nginx() { # template port upstream-address → $pid
    local conf=$work/$(basename "$1" .conf)-$2.conf
    sed -e "s#@WORK@#$work#g; s#@PORT@#$2#g; s#@UPSTREAM@#${3:-}#g; s#@DIR@#$here#g" "$1" >"$conf"
    start "${prio[@]}" taskset -c "$4" "${unprivileged[@]}" nginx -c "$conf" -p "$work" -e "$work/nginx-error.log"
    wait_tcp "$2"
}

metric() { # metrics-address name: a counter's value from ferry's Prometheus endpoint
    curl -s "http://$1/metrics" | awk -v n="$2" '$1 == n { v = $2 } END { print v + 0 }'
}

dropped() { # metrics-address: requests left out of the capture so far, all reasons
    curl -s "http://$1/metrics" | awk '/^ferry_capture_dropped_requests_total/ { s += $2 } END { print s + 0 }'
}

python3 "$here/results.py" bodies "$work"
declare -A method=([small]=GET [bulk]=POST [large]=POST)
declare -A urlpath=([small]=/bench/_doc/1 [bulk]=/_bulk [large]=/bench/_doc)
declare -A body=([small]="" [bulk]=$work/bulk.ndjson [large]=$work/large.json)
declare -A rate=([small]=${RATE_SMALL:-2000} [bulk]=${RATE_BULK:-200} [large]=${RATE_LARGE:-50})
declare -A conns=([small]=${CONNS_SMALL:-16} [bulk]=${CONNS_BULK:-8} [large]=${CONNS_LARGE:-4})

{
    echo "date: $(date -u +%FT%TZ); $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
    echo "kernel $(uname -r); $(nginx -v 2>&1); $(wrk -v 2>&1 | head -1); $("$oha" --version); tansu: $("$tansu" --version 2>/dev/null || echo none)"
    echo "ferry: $ferry ($(cd "$repo" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$repo" && git status --porcelain agent/capture agent/capture-log coordinator/cli 2>/dev/null | grep -q . && echo ', uncommitted proxy edits'))"
} | tee "$cache/proxy-machine.txt" >&2

# One measurement: warm-up, then `rate` (oha, fixed rate) or `max` (wrk). Appends a JSON line to $results.
measure() { # upstream route size mode url [metrics-address]
    local upstream=$1 route=$2 size=$3 mode=$4 url=$5 metrics=${6:-} out=$work/out before after seen="" dropped=""
    local args=(--no-tui --output-format json -c "${conns[$size]}" -q "${rate[$size]}" --latency-correction
        --wait-ongoing-requests-after-deadline -m "${method[$size]}")
    [ -n "${body[$size]}" ] && args+=(-D "${body[$size]}" -T application/x-ndjson)
    # Warm-up (connections, caches) in the mode measured next: a saturating warm-up would leave Ferry's capture
    # queue full and its writer busy at the start of a fixed-rate run.
    if [ "$mode" = rate ]; then
        "${prio[@]}" taskset -c "$load_cpu" "$oha" "${args[@]}" -z 2s "${url%/}${urlpath[$size]}" >/dev/null
    else
        METHOD=${method[$size]} URLPATH=${urlpath[$size]} BODY=${body[$size]} "${prio[@]}" taskset -c "$load_cpu" \
            wrk -t1 -c "${conns[$size]}" -d 2s -s "$here/wrk-body.lua" "$url" >/dev/null
    fi
    local requests_before=0 dropped_before=0 records_before=0 sent_before=0 spilled_before=0 records="" sent="" spilled=""
    if [ -n "$metrics" ]; then
        requests_before=$(metric "$metrics" ferry_capture_requests_total)
        dropped_before=$(dropped "$metrics")
        records_before=$(metric "$metrics" ferry_capture_records_total)
        sent_before=$(metric "$metrics" ferry_capture_kafka_sent_total)
        spilled_before=$(metric "$metrics" ferry_capture_spill_records_total)
    fi
    before=$(cut -d' ' -f1 /proc/loadavg)
    if [ "$mode" = rate ]; then
        echo "+ ${prio[*]} taskset -c $load_cpu oha ${args[*]} -z ${rate_secs}s ${url%/}${urlpath[$size]}" >>"$cache/proxy-commands.txt"
        "${prio[@]}" taskset -c "$load_cpu" "$oha" "${args[@]}" -z "${rate_secs}s" "${url%/}${urlpath[$size]}" >"$out"
    else
        echo "+ METHOD=${method[$size]} URLPATH=${urlpath[$size]} BODY=${body[$size]} ${prio[*]} taskset -c $load_cpu wrk -t1" \
            "-c ${conns[$size]} -d ${max_secs}s -s $here/wrk-body.lua $url" >>"$cache/proxy-commands.txt"
        METHOD=${method[$size]} URLPATH=${urlpath[$size]} BODY=${body[$size]} "${prio[@]}" taskset -c "$load_cpu" \
            wrk -t1 -c "${conns[$size]}" -d "${max_secs}s" -s "$here/wrk-body.lua" "$url" >"$out"
    fi
    after=$(cut -d' ' -f1 /proc/loadavg)
    if [ -n "$metrics" ]; then
        # Requests the proxy saw during the run, and how many of them were left out of the capture.
        seen=$(( $(metric "$metrics" ferry_capture_requests_total) - requests_before ))
        dropped=$(( $(dropped "$metrics") - dropped_before ))
        # Records: appended to the capture log; with Kafka, acknowledged by the broker and spilled to the log.
        records=$(( $(metric "$metrics" ferry_capture_records_total) - records_before ))
        sent=$(( $(metric "$metrics" ferry_capture_kafka_sent_total) - sent_before ))
        spilled=$(( $(metric "$metrics" ferry_capture_spill_records_total) - spilled_before ))
    fi
    local tool=wrk
    [ "$mode" = rate ] && tool=oha
    python3 "$here/results.py" row tool=$tool upstream="$upstream" route="$route" size="$size" mode="$mode" \
        session="$session" round="$round" rate="${rate[$size]}" connections="${conns[$size]}" load_before="$before" \
        load_after="$after" seen="$seen" dropped="$dropped" \
        records="$records" kafka_sent="$sent" spilled="$spilled" <"$out" | tee -a "$results" >&2
}

# Runs `measure` through Ferry, started fresh (empty capture log, and an empty broker for Kafka) for each run.
measure_ferry() { # upstream route size mode upstream-port
    local extra=() broker_pid=""
    rm -rf "$capture_log"
    if [ "$2" = ferry-kafka ]; then
        local kport
        kport=$(free_port)
        start "${prio[@]}" taskset -c "$load_cpu" "$tansu" broker --listener-url "tcp://127.0.0.1:$kport" \
            --advertised-listener-url "tcp://127.0.0.1:$kport" --storage-engine memory://tansu/ >"$work/tansu.log" 2>&1
        broker_pid=$pid
        wait_tcp "$kport"
        "$tansu" topic create bench --broker "tcp://127.0.0.1:$kport" --partitions 3 >>"$work/tansu.log" 2>&1
        extra=(--kafka "127.0.0.1:$kport" --topic bench)
    fi
    start "${prio[@]}" taskset -c "$proxy_cpu" "$ferry" capture --listen 127.0.0.1:0 --upstream "http://127.0.0.1:$5" \
        --log "$capture_log" --metrics 127.0.0.1:0 "${extra[@]}" 2>"$work/ferry.err"
    local ferry_pid=$pid addr="" metrics=""
    for _ in $(seq 300); do
        addr=$(sed -n 's/^listening on //p' "$work/ferry.err")
        metrics=$(sed -n 's/^metrics on //p' "$work/ferry.err")
        [ -n "$addr" ] && [ -n "$metrics" ] && break
        sleep 0.1
    done
    [ -n "$addr" ] || { cat "$work/ferry.err" >&2; exit 1; }
    echo "+ ${prio[*]} taskset -c $proxy_cpu $ferry capture --listen 127.0.0.1:0 --upstream http://127.0.0.1:$5 --log LOG" \
        "--metrics 127.0.0.1:0 ${extra[*]}" >>"$cache/proxy-commands.txt"
    measure "$1" "$2" "$3" "$4" "http://$addr/" "$metrics"
    stop "$ferry_pid"
    if [ -n "$broker_pid" ]; then stop "$broker_pid"; fi
    rm -rf "$capture_log"
}

if [ -z "${APPEND:-}" ]; then
    : >"$results"
    : >"$cache/proxy-commands.txt"
fi
session=$(date -u +%FT%TZ)
for round in $(seq "$rounds"); do
    for upstream in $upstreams; do
        up_port=$(free_port)
        case $upstream in
            nginx)
                start_nginx "$here/upstream.conf" "$up_port" "" "$load_cpu"
                upstream_pid=$pid
                up_sizes=$sizes ;;
            osmem)
                [ -x "$osmem" ] || { echo "osmem-server missing at $osmem: run scripts/setup" >&2; exit 1; }
                start "${prio[@]}" taskset -c "$load_cpu" "$osmem" -addr "127.0.0.1:$up_port" -no-stdin-watch >/dev/null 2>&1
                upstream_pid=$pid
                wait_http "http://127.0.0.1:$up_port/"
                curl -s -o /dev/null -X PUT -H 'content-type: application/json' \
                    "http://127.0.0.1:$up_port/bench/_doc/1?refresh=true" -d '{"title":"a small document","count":42}'
                up_sizes=small ;;
            *) echo "unknown upstream $upstream" >&2; exit 1 ;;
        esac
        for route in $routes; do
            proxy_pid=""
            case $route in
                direct) url=http://127.0.0.1:$up_port/ ;;
                nginx)
                    proxy_port=$(free_port)
                    start_nginx "$here/nginx-proxy.conf" "$proxy_port" "127.0.0.1:$up_port" "$proxy_cpu"
                    proxy_pid=$pid
                    url=http://127.0.0.1:$proxy_port/ ;;
                ferry) ;;
                ferry-kafka)
                    if [ -z "$kafka" ]; then
                        echo "skipping ferry-kafka: \`ferry capture --help\` has no --kafka yet" >&2
                        continue
                    fi
                    [ -x "$tansu" ] || { echo "skipping ferry-kafka: no tansu (scripts/setup builds it)" >&2; continue; } ;;
                *) echo "unknown route $route" >&2; exit 1 ;;
            esac
            for size in $up_sizes; do
                for mode in rate max; do
                    case $route in
                        ferry*) measure_ferry "$upstream" "$route" "$size" "$mode" "$up_port" ;;
                        *) measure "$upstream" "$route" "$size" "$mode" "$url" ;;
                    esac
                done
            done
            if [ -n "$proxy_pid" ]; then stop "$proxy_pid"; fi
        done
        stop "$upstream_pid"
    done
done

python3 "$here/results.py" table "$results"
