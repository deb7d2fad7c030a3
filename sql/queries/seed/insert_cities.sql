-- Seed: insert cities, skipping any that exists (same id, or same search_name + state + country).
-- Parameters: parallel arrays, one element per city:
--   $1 id uuid[], $2 region text[], $3 name text[], $4 search_name text[], $5 state text[], $6 country text[],
--   $7 lat float8[], $8 lon float8[], $9 time_zone text[].
-- Returns: no rows; the row count is the number of cities inserted.
INSERT INTO cities (id, region, name, search_name, state, country, lat, lon, time_zone)
SELECT *
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::float8[],
            $9::text[])
ON CONFLICT DO NOTHING
