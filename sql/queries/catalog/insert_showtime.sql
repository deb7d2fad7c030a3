-- A new scheduled showtime in region $1 at theater $2, screen $3, of movie $4, from $5 to $6, prices per seat kind
-- $7..$10 (minor units of currency $11).
-- Rows: id.
INSERT INTO showtimes (region, id, theater_id, screen_number, movie_id, start_time, end_time,
                       price_standard, price_premium, price_accessible, price_companion, currency, status)
VALUES ($1, gen_random_uuid(), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'scheduled')
RETURNING id
