-- holds.lua: wrk script for the API holds of loadtest/run.sh: uncontended two-seat holds through the API, spread
-- over many showtimes (see loadtest/README.md). Prints one `WRK_JSON {...}` line (report.lua's format, plus the
-- answers by status).
--
-- wrk ... -s holds.lua <url> -- <dir> <first block> <threads>
--   <dir>/tokens.txt  one access token per line (loadgen prepare)
--   <dir>/blocks.txt  one showtime id per line: 70 two-seat holds each, the pairs of rows A-J, numbers 1-14
-- Request n of thread t is the run's request g = t + n * threads; it holds pair p = g mod 70 (row p / 7, numbers
-- 2 (p mod 7) + 1 and + 2) of block <first> + g / 70, for user g mod #tokens: no seat is asked for twice and a user
-- holds two seats of a showtime at most, so every answer should be a 201. Anything else is counted and reported.

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local function lines(path)
  local t = {}
  for line in io.lines(path) do
    table.insert(t, line)
  end
  return t
end

function init(args)
  dir, first, nthreads = args[1], tonumber(args[2]), tonumber(args[3])
  tokens = lines(dir .. "/tokens.txt")
  blocks = lines(dir .. "/blocks.txt")
  n = 0
  statuses = {}
end

function request()
  local g = tid + n * nthreads
  n = n + 1
  local showtime = blocks[first + math.floor(g / 70) + 1]
  local p = g % 70
  local row = string.char(65 + math.floor(p / 7))
  local s1 = 2 * (p % 7) + 1
  local body = string.format('{"showtimeId":"%s","seatIds":["%s%d","%s%d"]}', showtime, row, s1, row, s1 + 1)
  local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. tokens[(g % #tokens) + 1] }
  return wrk.format("POST", "/bookings", headers, body)
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
