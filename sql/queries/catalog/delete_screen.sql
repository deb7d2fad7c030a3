-- Deletes screen $3 of theater $2 (region $1); its seats must be deleted first (delete_screen_seats.sql) and it
-- must have no showtime (the caller checks, and showtimes_screen_fkey refuses otherwise).
-- Rows: none.
DELETE FROM screens WHERE region = $1 AND theater_id = $2 AND screen_number = $3
