#!/usr/bin/env python3
"""Helpers of tests/bench/proxy.sh.

  results.py bodies DIR             write the request bodies (bulk.ndjson ~100 KB, large.json 1 MiB) into DIR
  results.py row KEY=VALUE... < OUT turn one load-generator run (oha JSON or wrk's WRK_JSON line) into a JSON line
  results.py table RESULTS.jsonl    the Markdown tables of BENCHMARKS.md from every run recorded
"""

import json
import random
import statistics
import sys

WORDS = ("quick brown fox lazy dog shard replica segment merge refresh flush index mapping analyzer token "
         "café naïve über 東京 数据 مرحبا 🙂 error warn info user order payment shipped cancelled").split()


def document(rng, text_words):
    return {
        "@timestamp": f"2026-11-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z",
        "user": {"id": rng.randint(1, 10**6), "name": " ".join(rng.choice(WORDS) for _ in range(2))},
        "status": rng.choice(["ok", "failed", "pending"]),
        "amount": round(rng.random() * 1000, 2),
        "tags": [rng.choice(WORDS) for _ in range(3)],
        "message": " ".join(rng.choice(WORDS) for _ in range(text_words)),
    }


def bodies(out_dir):
    """Deterministic, realistically compressible bodies (zstd ratio ~3-4, like log and event documents)."""
    rng = random.Random(5)
    lines = []
    size = 0
    n = 0
    while size < 100 * 1024:
        action = json.dumps({"index": {"_index": "bench", "_id": str(n)}}, separators=(",", ":"))
        source = json.dumps(document(rng, 120), ensure_ascii=False, separators=(",", ":"))
        lines += [action, source]
        size += len(action.encode()) + len(source.encode()) + 2
        n += 1
    with open(f"{out_dir}/bulk.ndjson", "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    doc = document(rng, 10)
    words = []
    size = 0
    while size < 1024 * 1024 - 400:
        word = rng.choice(WORDS)
        words.append(word)
        size += len(word.encode()) + 1
    doc["message"] = " ".join(words)
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    with open(f"{out_dir}/large.json", "w", encoding="utf-8") as f:
        f.write(text)


def parse_oha(data):
    summary = data["summary"]
    pct = data["latencyPercentiles"]
    statuses = {int(k): v for k, v in data.get("statusCodeDistribution", {}).items()}
    errors = sum(data.get("errorDistribution", {}).values())
    ok = sum(v for k, v in statuses.items() if 200 <= k < 300)
    return {
        "requests": sum(statuses.values()) + errors,
        "errors": errors + sum(v for k, v in statuses.items() if not 200 <= k < 300),
        "rps": ok / summary["total"] if summary["total"] else 0.0,
        "p50_ms": pct["p50"] * 1e3,
        "p99_ms": pct["p99"] * 1e3,
        "p999_ms": pct["p99.9"] * 1e3,
        "max_ms": summary["slowest"] * 1e3,
    }


def parse_wrk(text):
    line = next(line for line in text.splitlines() if line.startswith("WRK_JSON "))
    w = json.loads(line[len("WRK_JSON "):])
    return {
        "requests": w["requests"],
        "errors": w["errors"],
        "rps": w["requests"] / (w["duration_us"] / 1e6),
        "p50_ms": w["p50_us"] / 1e3,
        "p99_ms": w["p99_us"] / 1e3,
        "p999_ms": w["p999_us"] / 1e3,
        "max_ms": w["max_us"] / 1e3,
    }


def row(args):
    fields = dict(arg.split("=", 1) for arg in args)
    text = sys.stdin.read()
    parsed = parse_wrk(text) if fields["tool"] == "wrk" else parse_oha(json.loads(text))
    for key in ("load_before", "load_after", "rate", "round", "connections"):
        if key in fields:
            fields[key] = float(fields[key])
    for key in ("seen", "dropped", "records", "kafka_sent", "spilled"):
        if fields.get(key, "") != "":
            fields[key] = int(float(fields[key]))
        else:
            fields.pop(key, None)
    fields.update(parsed)
    print(json.dumps(fields))


ROUTES = ["direct", "nginx", "ferry", "ferry-kafka"]
SIZES = {"small": "GET 181 B document", "bulk": "POST `_bulk` ~100 KB", "large": "POST 1 MiB document"}


def spread(values, fmt):
    if not values:
        return "–"
    mid = statistics.median(values)
    if len(values) == 1:
        return fmt(mid)
    return f"{fmt(mid)} ({fmt(min(values))}–{fmt(max(values))})"


def table(path):
    runs = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    bad = [r for r in runs if r["errors"]]
    upstreams = sorted({r["upstream"] for r in runs}, key=lambda u: (u != "nginx", u))
    ms = lambda v: f"{v:.2f}"  # noqa: E731
    rps = lambda v: f"{v:,.0f}"  # noqa: E731
    for upstream in upstreams:
        print(f"\nUpstream: {upstream}. Latency at a fixed rate (oha, ms, median of rounds, range in brackets); "
              "max throughput (wrk, req/s).\n")
        print("| request | path | rate req/s | p50 ms | p99 ms | p99.9 ms | max ms | max req/s | not captured at max "
              "(captured req/s) | load avg |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for size in SIZES:
            for route in ROUTES:
                mine = [r for r in runs if r["upstream"] == upstream and r["size"] == size and r["route"] == route
                        and not r["errors"]]
                if not mine:
                    continue
                fixed = [r for r in mine if r["mode"] == "rate"]
                peak = [r for r in mine if r["mode"] == "max"]
                loads = [r["load_before"] for r in mine]
                rate = f"{fixed[0]['rate']:,.0f}" if fixed else "–"
                lost = "–"
                if any("dropped" in r for r in peak):
                    seen = sum(r["seen"] for r in peak)
                    kept = [r["rps"] * (1 - r["dropped"] / r["seen"]) for r in peak if r["seen"]]
                    if seen:
                        lost = f"{sum(r['dropped'] for r in peak) / seen * 100:.0f} % ({spread(kept, rps)} captured)"
                print(f"| {SIZES[size]} | {route} | {rate} | {spread([r['p50_ms'] for r in fixed], ms)} | "
                      f"{spread([r['p99_ms'] for r in fixed], ms)} | {spread([r['p999_ms'] for r in fixed], ms)} | "
                      f"{spread([r['max_ms'] for r in fixed], ms)} | {spread([r['rps'] for r in peak], rps)} | {lost} | "
                      f"{min(loads):.1f}–{max(loads):.1f} |")
        print("\nAdded by the proxy (median p50 / p99 minus direct's, ms; max throughput relative to nginx):\n")
        print("| request | path | added p50 ms | added p99 ms | max req/s vs nginx |")
        print("|---|---|---:|---:|---:|")
        for size in SIZES:
            def med(route, mode, key):
                values = [r[key] for r in runs if r["upstream"] == upstream and r["size"] == size
                          and r["route"] == route and r["mode"] == mode and not r["errors"]]
                return statistics.median(values) if values else None
            base50, base99 = med("direct", "rate", "p50_ms"), med("direct", "rate", "p99_ms")
            nginx_max = med("nginx", "max", "rps")
            for route in ROUTES[1:]:
                p50, p99, peak = med(route, "rate", "p50_ms"), med(route, "rate", "p99_ms"), med(route, "max", "rps")
                if p50 is None or base50 is None:
                    continue
                versus = f"{(peak / nginx_max - 1) * 100:+.0f} %" if peak and nginx_max else "–"
                print(f"| {SIZES[size]} | {route} | {p50 - base50:+.2f} | {p99 - base99:+.2f} | {versus} |")
    for mode, what in (("rate", "fixed-rate"), ("max", "max-throughput")):
        ferry = [r for r in runs if "dropped" in r and r["mode"] == mode]
        if ferry:
            print(f"\nFerry, {what} runs: {sum(r['seen'] for r in ferry):,} requests proxied, "
                  f"{sum(r['dropped'] for r in ferry):,} of them left out of the capture (queue full).")
        kafka = [r for r in ferry if r["route"] == "ferry-kafka" and "kafka_sent" in r]
        if kafka:
            print(f"With Kafka ({what}): {sum(r['records'] for r in kafka):,} records, "
                  f"{sum(r['kafka_sent'] for r in kafka):,} acknowledged by the broker, "
                  f"{sum(r['spilled'] for r in kafka):,} spilled to the local log.")
    if bad:
        print(f"\n{len(bad)} run(s) had errors and are left out: "
              + ", ".join(f"{r['upstream']}/{r['size']}/{r['route']}/{r['mode']}" for r in bad))


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "bodies":
        bodies(args[0])
    elif command == "row":
        row(args)
    elif command == "table":
        table(args[0])
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
