-- wrk script for tests/bench/proxy.sh: every request is `METHOD PATH` with the body of the file named by the
-- environment variable BODY (none when unset), and `content-type: application/x-ndjson` as a `_bulk` client sends.
wrk.method = os.getenv("METHOD") or "GET"
wrk.path = os.getenv("URLPATH") or "/"
local body_file = os.getenv("BODY")
if body_file and body_file ~= "" then
    local f = assert(io.open(body_file, "rb"))
    wrk.body = f:read("*a")
    f:close()
    wrk.headers["content-type"] = "application/x-ndjson"
end

-- wrk counts 4xx/5xx answers as `status` errors; any error makes the harness refuse the run's figures.
function done(summary, latency, requests)
    io.write(string.format("WRK_JSON {\"requests\":%d,\"duration_us\":%d,\"bytes\":%d,\"errors\":%d,\"non2xx\":%d," ..
        "\"p50_us\":%d,\"p99_us\":%d,\"p999_us\":%d,\"max_us\":%d}\n",
        summary.requests, summary.duration, summary.bytes,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status +
        summary.errors.timeout, summary.errors.status,
        latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
