-- Updates scheduled showtime $2 (region $1): movie $3, from $4 to $5, prices $6..$9, currency $10. Holds already
-- made keep the prices they locked (I5).
-- Rows: none (the count is 0 if it does not exist or is canceled).
UPDATE showtimes
SET movie_id = $3, start_time = $4, end_time = $5,
    price_standard = $6, price_premium = $7, price_accessible = $8, price_companion = $9, currency = $10
WHERE region = $1 AND id = $2 AND status = 'scheduled'
