-- GCRA (generic cell rate algorithm) rate limiter, atomic in Redis: one key per limited subject holds its
-- "theoretical arrival time" (TAT), in microseconds of the Redis clock (TIME: every pod uses the same clock).
-- A request is allowed when TAT - now <= (burst - 1) * interval; then TAT advances by one interval.
--
-- KEYS[1]  the subject's key, e.g. boxoffice:rl:login:<email>|<address>
-- ARGV[1]  emission interval in microseconds (time to earn one request back), >= 1
-- ARGV[2]  burst (requests allowed back to back), >= 1
-- ARGV[3]  optional, '1': only look (would a request be allowed now?), counting nothing: the login account ceiling
--          counts failures only, but every attempt asks whether the ceiling is spent (gateway::login)
-- Returns {allowed 0|1, remaining requests, microseconds}: when allowed, the time until the whole burst is back;
-- when refused, the time until one request will be allowed.
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now) or now
if tat < now then
  tat = now
end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if now < allow_at then
  return {0, 0, allow_at - now}
end
if ARGV[3] == '1' then
  return {1, math.floor((now - allow_at) / interval), math.max(0, tat - now)}
end
-- '%.0f': Lua's default number format (%.14g) would round a 16-digit microsecond count.
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.max(1, math.ceil((new_tat - now) / 1000)))
return {1, math.floor((now - allow_at) / interval), new_tat - now}
