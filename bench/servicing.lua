-- The servicing bench's load (bench/servicing_bench.py), run as
--   wrk -t 1 -c N -s servicing.lua URL -- REQUESTS_FILE TOKEN RUN_ID DONE_FILE [PACE_MS]
-- REQUESTS_FILE has one request a line, "METHOD<tab>PATH<tab>BODY" (BODY may be empty); each is
-- sent exactly once, a POST with its own Idempotency-Key. As in origination.lua, the last answer
-- creates DONE_FILE and the bench interrupts wrk; ``done`` prints one JSON line. With PACE_MS
-- each connection waits PACE_MS on average (uniformly between 0 and twice that) before each
-- request: eight tablets each sending a request every PACE_MS or so; without it they send as
-- fast as answers come.

local requests = {}
local next_request = 1
local answered = 0
local headers = {}
local run_id = ""
local sent_total = 0
local done_file = ""
local pace = 0

function init(args)
  for line in io.lines(args[1]) do
    local method, path, body = line:match("^(%u+)\t([^\t]+)\t?(.*)$")
    requests[#requests + 1] = {method = method, path = path, body = body}
  end
  sent_total = #requests
  -- wrk calls request() once before connecting and never sends what it got.
  table.insert(requests, 1, requests[1])
  headers["Authorization"] = "Token " .. args[2]
  headers["Content-Type"] = "application/json"
  run_id = args[3]
  done_file = args[4]
  pace = tonumber(args[5] or "0")
  math.randomseed(os.time())
end

function delay()
  -- Uniform between none and twice the pace: clients that do not all send at the same instant
  -- (a fixed wait would keep the eight in step and send bursts of eight).
  if pace == 0 then
    return 0
  end
  return math.random(0, 2 * pace)
end

function request()
  local r = requests[next_request]
  if r == nil then
    return ""
  end
  next_request = next_request + 1
  if r.method == "POST" then
    headers["Idempotency-Key"] = run_id .. "-" .. next_request
  else
    headers["Idempotency-Key"] = nil
  end
  return wrk.format(r.method, r.path, headers, r.body)
end

function response(status, headers, body)
  answered = answered + 1
  if answered == sent_total then
    io.open(done_file, "w"):close()
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, '
      .. '"max_us": %d, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, '
      .. '"timeout": %d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
