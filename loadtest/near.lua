-- wrk request generator: `GET /theaters?near=lat,lon&radiusKm=25` at a random position around Manhattan on every
-- request, so that no two requests share a search-cache entry: the database-backed path of a proximity search.
dofile("loadtest/report.lua")

math.randomseed(42)

request = function()
  local lat = 40.70 + math.random() * 0.12
  local lon = -74.02 + math.random() * 0.10
  return wrk.format("GET", string.format("/theaters?near=%.6f,%.6f&radiusKm=25", lat, lon))
end
