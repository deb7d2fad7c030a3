-- Seed: insert screens, skipping any that exists.
-- Parameters: parallel arrays, one element per screen:
--   $1 region text[], $2 theater_id uuid[], $3 screen_number int4[], $4 name text[].
-- Returns: no rows; the row count is the number of screens inserted.
INSERT INTO screens (region, theater_id, screen_number, name)
SELECT *
FROM unnest($1::text[], $2::uuid[], $3::int4[], $4::text[])
ON CONFLICT DO NOTHING
