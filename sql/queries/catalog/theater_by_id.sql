-- The theater $1 with its city. Index: theaters_id_idx (the region is not known from an id alone).
-- Rows: a theater with its city (catalog::store::theater_from_row), distance_km NULL; zero or one.
SELECT t.region, t.id, t.name, t.address, t.zip, t.lat, t.lon, t.number_of_screens,
       c.id AS city_id, c.name AS city, c.state, c.country, c.time_zone,
       NULL::FLOAT8 AS distance_km
FROM theaters t
JOIN cities c ON c.id = t.city_id
WHERE t.id = $1
