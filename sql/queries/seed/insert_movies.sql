-- Seed: insert movies, skipping any whose id exists.
-- Parameters: parallel arrays, one element per movie:
--   $1 id uuid[], $2 title text[], $3 search_title text[], $4 duration_min int4[], $5 genre text[], $6 rating text[],
--   $7 description text[], $8 release_date date[].
-- Returns: no rows; the row count is the number of movies inserted.
INSERT INTO movies (id, title, search_title, duration_min, genre, rating, description, release_date)
SELECT *
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int4[], $5::text[], $6::text[], $7::text[], $8::date[])
ON CONFLICT DO NOTHING
