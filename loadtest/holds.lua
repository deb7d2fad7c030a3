-- holds.lua: wrk script for run (a) of loadtest/holds.sh: uncontended two-seat holds through the API, spread over
-- many showtimes (see loadtest/README.md).
--
-- wrk ... -s holds.lua <url> -- <dir> <first block> <threads>
--   <dir>/tokens.txt  one access token per line (loadgen prepare)
--   <dir>/blocks.txt  "<showtimeId> <seat>,<seat>,..." per line: 96 two-seat holds per showtime
-- Request n of thread t is the run's request g = t + n * threads; it holds seats 2p+1 and 2p+2 (p = g mod 96) of
-- block <first> + g / 96, for user g mod #tokens: no seat is asked for twice and a user holds two seats of a
-- showtime at most, so every answer should be a 201. Anything else is counted and reported.

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
  blocks = {}
  for _, line in ipairs(lines(dir .. "/blocks.txt")) do
    local id, seats = line:match("^(%S+) (%S+)$")
    local list = {}
    for s in seats:gmatch("[^,]+") do
      table.insert(list, s)
    end
    table.insert(blocks, { id = id, seats = list })
  end
  n = 0
  statuses = {}
end

function request()
  local g = tid + n * nthreads
  n = n + 1
  local block = blocks[first + math.floor(g / 96) + 1]
  local p = g % 96
  local body = string.format('{"showtimeId":"%s","seatIds":["%s","%s"]}', block.id, block.seats[2 * p + 1],
    block.seats[2 * p + 2])
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
    table.insert(parts, string.format('"%d": %d', status, count))
  end
  local errors = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %.3f, "rps": %.1f, "latencyMs": {"p50": %.2f, "p90": %.2f, "p99": %.2f, ' ..
    '"max": %.2f}, "statuses": {%s}, "socketErrors": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    table.concat(parts, ", "), errors.connect + errors.read + errors.write + errors.timeout))
end
