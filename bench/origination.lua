-- The origination bench's load (bench/origination_bench.py), run as
--   wrk -t 1 -c 8 -s origination.lua URL -- PATHS_FILE TOKEN RUN_ID DONE_FILE
-- Every request POSTs the next path of PATHS_FILE (one a line) with its own Idempotency-Key,
-- so each path is sent exactly once. When the list is used up a connection sends nothing more,
-- and the last answer creates DONE_FILE: the bench then interrupts wrk (SIGINT, as Ctrl-C: it
-- stops and reports at once instead of waiting out -d; a signal sent from here would be lost,
-- os.execute ignores SIGINT while its shell runs). ``done`` prints one JSON line the bench reads: completed requests, wall
-- time, latency percentiles and errors (answers of 400 and above count in ``status``).

local paths = {}
local next_path = 1
local answered = 0
local headers = {}
local run_id = ""

local sent_total = 0
local done_file = ""

function init(args)
  for line in io.lines(args[1]) do
    paths[#paths + 1] = line
  end
  sent_total = #paths
  -- wrk calls request() once before connecting, to count pipelined requests, and never sends
  -- what it got: that call gets a copy of the first path.
  table.insert(paths, 1, paths[1])
  headers["Authorization"] = "Token " .. args[2]
  headers["Content-Type"] = "application/json"
  run_id = args[3]
  done_file = args[4]
end

function request()
  local path = paths[next_path]
  if path == nil then
    return "" -- used up: this connection waits, idle, for the others to finish
  end
  next_path = next_path + 1
  headers["Idempotency-Key"] = run_id .. "-" .. next_path
  return wrk.format("POST", path, headers, "")
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
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
