-- Seed: insert theaters, skipping any whose (region, id) exists.
-- Parameters: parallel arrays, one element per theater:
--   $1 region text[], $2 id uuid[], $3 city_id uuid[], $4 name text[], $5 address text[], $6 zip text[],
--   $7 lat float8[], $8 lon float8[], $9 number_of_screens int4[].
-- Returns: no rows; the row count is the number of theaters inserted.
INSERT INTO theaters (region, id, city_id, name, address, zip, lat, lon, number_of_screens)
SELECT *
FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::float8[],
            $9::int4[])
ON CONFLICT DO NOTHING
