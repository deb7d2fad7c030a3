-- Seed (scale): bulk load of the showtimes of new theaters (binary COPY).
-- Columns, in order: region text, id uuid, theater_id uuid, screen_number int4, movie_id uuid,
--   start_time timestamptz, end_time timestamptz, price_standard int8, price_premium int8, price_accessible int8,
--   price_companion int8, currency text.
COPY showtimes (region, id, theater_id, screen_number, movie_id, start_time, end_time, price_standard,
                price_premium, price_accessible, price_companion, currency)
FROM STDIN WITH BINARY
