-- wrk script for the benchmark: POSTs one JSON body with a bearer key and, when wrk finishes,
-- prints a single machine-readable line that bench/harness/wrk.py parses.
--
-- Inputs come from the environment so one script serves every system and scenario:
--   BENCH_BODY  the request body (JSON text)
--   BENCH_KEY   the bearer key; empty or unset sends no Authorization header

wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY") or "{}"
wrk.headers["Content-Type"] = "application/json"

local key = os.getenv("BENCH_KEY")
if key ~= nil and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end

-- Latencies are in microseconds. errors.status counts responses with a status of 400 or more.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_JSON {\"duration_us\":%.0f,\"requests\":%.0f,\"bytes\":%.0f," ..
    "\"errors\":{\"connect\":%.0f,\"read\":%.0f,\"write\":%.0f,\"status\":%.0f,\"timeout\":%.0f}," ..
    "\"latency_us\":{\"min\":%.0f,\"mean\":%.1f,\"max\":%.0f,\"stdev\":%.1f," ..
    "\"p50\":%.0f,\"p90\":%.0f,\"p99\":%.0f,\"p999\":%.0f}}\n",
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max, latency.stdev,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9)))
end
