-- The cities named $1 (catalog::model::search_key of the requested name: lower-case, accent-free), optionally
-- narrowed by state $2 and country $3 (NULL: any). An ambiguous name ("portland") gives several rows.
-- Index: cities_search_name_state_country_key (search_name leads).
-- Rows: id, region, name, state, country, lat, lon, time_zone.
SELECT id, region, name, state, country, lat, lon, time_zone
FROM cities
WHERE search_name = $1
  AND ($2::TEXT IS NULL OR state = $2::TEXT)
  AND ($3::TEXT IS NULL OR country = $3::TEXT)
ORDER BY country, state, id
