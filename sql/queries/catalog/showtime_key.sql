-- Region, theater, screen and status of showtime $1, read inside an admin transaction on the primary.
-- Index: showtimes_id_idx.
-- Rows: region, theater_id, screen_number, status; zero or one.
SELECT region, theater_id, screen_number, status FROM showtimes WHERE id = $1
