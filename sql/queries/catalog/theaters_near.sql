-- One page of the theaters within $9 km of ($1 lat, $2 lon), nearest first, by (distance_km, id), after the
-- keyset ($10 km, $11 id) (NULL: first page), at most $12 rows.
-- $3..$8 are catalog::model::geo::BoundingBox: the latitude band [$3, $4] and two longitude ranges [$5, $6],
-- [$7, $8] (equal unless the circle crosses the antimeridian), a superset of the circle that an index can scan.
-- distance_km is the haversine distance on a sphere of radius 6371.0088 km, the formula of
-- catalog::model::geo::haversine_km, computed only for the rows inside the box.
--
-- Plan: EXPLAIN ANALYZE on PostgreSQL 15 with `seed --demo` + `seed --scale 625` (691 theaters, ANALYZEd), 25 km
-- around Times Square. Custom plan (the first executions of the prepared statement):
--   Limit -> Sort (distance_km, t.id) -> Hash Join (c.id = t.city_id)
--     -> Seq Scan on cities c                                   (147 rows: reference data)
--     -> Hash -> Index Scan using theaters_lat_lon_idx on theaters t   (actual rows=4)
--          Index Cond: lat >= $3 AND lat <= $4 AND lon >= $5 AND lon <= $6
--          Filter: distance_km <= $9
-- Generic plan (plan_cache_mode = force_generic_plan):
--   ... -> Bitmap Heap Scan on theaters t (Recheck Cond: lat >= $3 AND lat <= $4;
--            Filter: lon ranges AND distance_km <= $9; Rows Removed by Filter: 76; Heap Blocks: 13)
--          -> Bitmap Index Scan on theaters_lat_lon_idx (Index Cond: lat >= $3 AND lat <= $4; actual rows=80)
-- Either way the index bounds the read to the latitude band (0.45 degrees for 25 km: 80 of 691 rows), and only
-- those rows get a distance; no request scans every theater. On the 66 demo theaters alone (one heap page) the
-- planner rightly prefers a sequential scan.
-- Rows: a theater with its city (catalog::store::theater_from_row) and distance_km.
SELECT *
FROM (
    SELECT t.region, t.id, t.name, t.address, t.zip, t.lat, t.lon, t.number_of_screens,
           c.id AS city_id, c.name AS city, c.state, c.country, c.time_zone,
           2 * 6371.0088 * asin(least(1.0, sqrt(
               power(sin(radians(t.lat - $1::FLOAT8) / 2), 2)
               + cos(radians($1::FLOAT8)) * cos(radians(t.lat)) * power(sin(radians(t.lon - $2::FLOAT8) / 2), 2)
           ))) AS distance_km
    FROM theaters t
    JOIN cities c ON c.id = t.city_id
    WHERE t.lat BETWEEN $3::FLOAT8 AND $4::FLOAT8
      AND (t.lon BETWEEN $5::FLOAT8 AND $6::FLOAT8 OR t.lon BETWEEN $7::FLOAT8 AND $8::FLOAT8)
) near
WHERE near.distance_km <= $9::FLOAT8
  AND ($10::FLOAT8 IS NULL OR (near.distance_km, near.id) > ($10::FLOAT8, $11::UUID))
ORDER BY near.distance_km, near.id
LIMIT $12
