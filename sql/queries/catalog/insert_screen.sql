-- Screen $3 of theater $2 (region $1), named $4.
-- Rows: none.
INSERT INTO screens (region, theater_id, screen_number, name) VALUES ($1, $2, $3, $4)
