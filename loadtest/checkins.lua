-- checkins.lua: wrk script for door check-ins (issue #21): `POST /checkins {token}` by one staff scanner, each
-- request a different ticket. Prints one `WRK_JSON {...}` line (report.lua's format, plus the answers by status).
--
-- wrk ... -s checkins.lua <url> -- <staff access token file> <ticket tokens file> <threads>
--   <ticket tokens file>  one ticket token per line (distinct tickets of paid bookings)
-- Request n of thread t takes ticket g = t + n * threads (mod the file's length): no ticket is asked for twice while
-- g < #tickets, so the first pass over the file is all 200 admitted; once the run wraps around, or on a second run
-- over the same file, every answer is a 409 ticket-already-admitted (another path of the door: the first admission
-- is read and reported). The statuses tell which pass a run measured.

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  local staff_file, tickets_file = args[1], args[2]
  nthreads = tonumber(args[3])
  local f = assert(io.open(staff_file))
  staff = f:read("*l")
  f:close()
  tickets = {}
  for line in io.lines(tickets_file) do
    if line ~= "" then
      table.insert(tickets, line)
    end
  end
  headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. staff }
  n = 0
  statuses = {}
end

function request()
  local g = tid + n * nthreads
  n = n + 1
  local body = string.format('{"token":"%s"}', tickets[(g % #tickets) + 1])
  return wrk.format("POST", "/checkins", headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      merged[status] = (merged[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(merged) do
    table.insert(parts, string.format('"%d":%d', status, count))
  end
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,' ..
    '"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"statuses":{%s}}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.bytes, e.connect, e.read, e.write, e.status, e.timeout, table.concat(parts, ",")))
end
