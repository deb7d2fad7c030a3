-- Seed: insert ZIP codes, skipping any that exists (same country + zip).
-- Parameters: parallel arrays, one element per ZIP code:
--   $1 country text[], $2 zip text[], $3 city_id uuid[], $4 lat float8[], $5 lon float8[].
-- Returns: no rows; the row count is the number of ZIP codes inserted.
INSERT INTO zip_codes (country, zip, city_id, lat, lon)
SELECT *
FROM unnest($1::text[], $2::text[], $3::uuid[], $4::float8[], $5::float8[])
ON CONFLICT DO NOTHING
