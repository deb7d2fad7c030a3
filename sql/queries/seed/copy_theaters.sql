-- Seed (scale): bulk load of theaters that do not exist yet (binary COPY; `WITH BINARY` is the spelling both
-- PostgreSQL and CockroachDB accept).
-- Columns, in order: region text, id uuid, city_id uuid, name text, address text, zip text, lat float8, lon float8,
--   number_of_screens int4.
COPY theaters (region, id, city_id, name, address, zip, lat, lon, number_of_screens) FROM STDIN WITH BINARY
