-- Deletes the seat layout of screen $3 of theater $2 (region $1): only for a screen without showtimes, whose layout
-- nothing refers to yet.
-- Rows: none.
DELETE FROM seats WHERE region = $1 AND theater_id = $2 AND screen_number = $3
