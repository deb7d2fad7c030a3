-- One page of the theaters of cities $1, by (name, id), after the keyset ($2 name, $3 id) (NULL: first page),
-- at most $4 rows.
-- Plan (PostgreSQL 15): Index Scan on theaters_city_idx (city_id = ANY($1)) -> Sort by (name, id) -> Limit; a city
-- has a handful of theaters, so the sort is of a few rows; cities come from the unique index on search_name.
-- Rows: a theater with its city (catalog::store::theater_from_row), distance_km NULL.
SELECT t.region, t.id, t.name, t.address, t.zip, t.lat, t.lon, t.number_of_screens,
       c.id AS city_id, c.name AS city, c.state, c.country, c.time_zone,
       NULL::FLOAT8 AS distance_km
FROM theaters t
JOIN cities c ON c.id = t.city_id
WHERE t.city_id = ANY($1)
  AND ($2::TEXT IS NULL OR (t.name, t.id) > ($2::TEXT, $3::UUID))
ORDER BY t.name, t.id
LIMIT $4
