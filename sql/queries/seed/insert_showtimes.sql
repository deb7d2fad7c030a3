-- Seed: insert showtimes, skipping any whose (region, id) exists: ids are derived from (theater, screen, local
-- date, slot), so a re-run only adds the days that entered the seeding window since the last run.
-- Parameters: parallel arrays, one element per showtime:
--   $1 region text[], $2 id uuid[], $3 theater_id uuid[], $4 screen_number int4[], $5 movie_id uuid[],
--   $6 start_time timestamptz[], $7 end_time timestamptz[], $8 price_standard int8[], $9 price_premium int8[],
--   $10 price_accessible int8[], $11 price_companion int8[], $12 currency text[].
-- Returns: no rows; the row count is the number of showtimes inserted.
INSERT INTO showtimes (region, id, theater_id, screen_number, movie_id, start_time, end_time, price_standard,
                       price_premium, price_accessible, price_companion, currency)
SELECT *
FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::int4[], $5::uuid[], $6::timestamptz[], $7::timestamptz[],
            $8::int8[], $9::int8[], $10::int8[], $11::int8[], $12::text[])
ON CONFLICT DO NOTHING
