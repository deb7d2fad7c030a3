-- One page of the theaters within $9 km of ($1 lat, $2 lon), nearest first, by (distance_km, id), after the
-- keyset ($10 km, $11 id) (NULL: first page), at most $12 rows.
-- $3..$8 are catalog::model::geo::BoundingBox: the latitude band [$3, $4] and two longitude ranges [$5, $6],
-- [$7, $8] (equal unless the circle crosses the antimeridian), a superset of the circle that an index can scan.
-- distance_km is the haversine distance on a sphere of radius 6371.0088 km, the formula of
-- catalog::model::geo::haversine_km, computed only for the rows inside the box.
--
-- Plan (PostgreSQL 15, `boxoffice seed --scale 625` = 715 theaters, 25 km around Manhattan):
--   Limit
--     -> Sort  (Sort Key: distance_km, t.id)
--       -> Nested Loop
--         -> Bitmap Heap Scan on theaters t
--              Recheck Cond: (lat >= $3) AND (lat <= $4)
--              Filter: ((lon >= $5) AND (lon <= $6)) OR ((lon >= $7) AND (lon <= $8))
--              -> Bitmap Index Scan on theaters_lat_lon_idx
--                   Index Cond: (lat >= $3) AND (lat <= $4) AND ...
--         -> Index Scan using cities_pkey on cities c (c.id = t.city_id)
-- The index bounds the scan to the latitude band (a 50 km band is ~0.45 degrees: a sliver of the continent);
-- only the rows of that band are read, and only those inside the box get a distance. With the 66 demo theaters the
-- planner rightly prefers a sequential scan of the single-page table.
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
