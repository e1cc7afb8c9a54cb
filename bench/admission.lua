-- wrk script for the sidecar-injector benchmark (driven by bench/run.py).
--
--   wrk -t1 -c8 -d10s -s bench/admission.lua https://127.0.0.1:8443/mutate -- BODY_FILE UID patch|nopatch [close]
--
-- Every request POSTs the AdmissionReview in BODY_FILE; with "close" it also asks for
-- "Connection: close", so every request gets a new connection and TLS handshake (bench/reliability.py).
-- A response is good only when it is HTTP 200, echoes UID, says "allowed":true, and carries a patch
-- ("patch") or carries none ("nopatch"). A 503 whose body is one of the server's overload refusals
-- (webhook/server/app.py: the in-flight review cap, the in-flight byte bound) is shed: designed load
-- shedding, counted apart from bad. Every other answer is bad (bad_status for any other non-200,
-- including the 503 of an expired review).
-- wrk runs each thread in its own Lua state: the counters are per-thread globals, and done() (in the
-- main state) sums them through the thread objects collected in setup().
-- done() prints one machine-readable line, latencies in microseconds:
--   BENCH requests=.. good=.. shed=.. bad=.. bad_status=.. bad_uid=.. bad_allowed=.. bad_patch=.. connect=..
--         read=.. write=.. status=.. timeout=.. duration_us=.. mean_us=.. p50_us=.. p90_us=.. p99_us=.. max_us=..

local threads = {}
local counters = { "good", "shed", "bad", "bad_status", "bad_uid", "bad_allowed", "bad_patch" }

-- Per-thread globals (read by thread:get in done()).
good, shed, bad, bad_status, bad_uid, bad_allowed, bad_patch = 0, 0, 0, 0, 0, 0, 0

-- The server's overload refusals, as error_body() writes them (tests/integration/test_bench_wrk.py
-- checks these against webhook/server/app.py).
local shed_messages = {
  '{"message":"too many reviews in progress, retry"}',
  '{"message":"too much request data in flight, retry"}',
}

local request_bytes, uid_needle, want_patch

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local path, uid, expect, mode = args[1], args[2], args[3], args[4]
  if path == nil or uid == nil or (expect ~= "patch" and expect ~= "nopatch")
      or (mode ~= nil and mode ~= "close") then
    error("usage: wrk ... -s admission.lua URL -- BODY_FILE UID patch|nopatch [close]")
  end
  local file = assert(io.open(path, "rb"))
  local body = file:read("*a")
  file:close()
  uid_needle = '"uid":"' .. uid .. '"'
  want_patch = expect == "patch"
  local headers = {
    ["Host"] = "sidecar-injector.bench.svc:443",
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json, */*",
    ["User-Agent"] = "kube-apiserver-admission",
  }
  if mode == "close" then
    headers["Connection"] = "close"
  end
  request_bytes = wrk.format("POST", wrk.path, headers, body)
end

function request()
  return request_bytes
end

local function is_shed(status, body)
  if status ~= 503 or body == nil then
    return false
  end
  for _, message in ipairs(shed_messages) do
    if string.find(body, message, 1, true) then
      return true
    end
  end
  return false
end

function response(status, headers, body)
  if status ~= 200 then
    if is_shed(status, body) then
      shed = shed + 1
      return
    end
    bad_status = bad_status + 1
  elseif body == nil or not string.find(body, uid_needle, 1, true) then
    bad_uid = bad_uid + 1
  elseif not string.find(body, '"allowed":true', 1, true) then
    bad_allowed = bad_allowed + 1
  elseif (string.find(body, '"patch":', 1, true) ~= nil) ~= want_patch then
    bad_patch = bad_patch + 1
  else
    good = good + 1
    return
  end
  bad = bad + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, name in ipairs(counters) do
    total[name] = 0
    for _, thread in ipairs(threads) do
      total[name] = total[name] + (thread:get(name) or 0)
    end
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d good=%d shed=%d bad=%d bad_status=%d bad_uid=%d bad_allowed=%d bad_patch=%d " ..
    "connect=%d read=%d write=%d status=%d timeout=%d duration_us=%d " ..
    "mean_us=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, total.good, total.shed, total.bad, total.bad_status, total.bad_uid, total.bad_allowed,
    total.bad_patch, e.connect, e.read, e.write, e.status, e.timeout, summary.duration,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
