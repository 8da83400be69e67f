-- bench_serve.lua — wrk script for bench/bench_serve.sh: POST /v1/rank for 200 known users in turn
-- (top 10), then one RESULT line with QPS and the p50 / p99 / p99.9 latency from wrk's own histogram.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"user":"u%05d","top":10}', n % 200)
  return wrk.format(nil, "/v1/rank", nil, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d qps=%.0f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f socket_errors=%d non2xx=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, latency:percentile(99.9) / 1e3, e.connect + e.read + e.write + e.timeout, e.status))
end
