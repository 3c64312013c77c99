-- One scenario's request, from the environment (set by bench/wrk.py):
--   BENCH_METHOD, BENCH_PATH, BENCH_BODY, BENCH_TOKEN, BENCH_REPORT (where done() writes JSON)
--   BENCH_ROTATE: when > 0, "{n}" in the path becomes a random number in 0..ROTATE-1, so requests
--   spread over many keys; otherwise wrk sends one prebuilt request (the cheapest way to drive it).
local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH") or "/"
local body = os.getenv("BENCH_BODY")
local token = os.getenv("BENCH_TOKEN")
local rotate = tonumber(os.getenv("BENCH_ROTATE") or "0")

wrk.method = method
wrk.path = path
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
if token and token ~= "" then
  wrk.headers["X-Vault-Token"] = token
end

if rotate > 0 then
  math.randomseed(os.time())
  request = function()
    return wrk.format(nil, (path:gsub("{n}", tostring(math.random(0, rotate - 1)))))
  end
end

done = function(summary, latency, requests)
  local out = assert(io.open(os.getenv("BENCH_REPORT"), "w"))
  local e = summary.errors
  out:write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
  out:close()
end
