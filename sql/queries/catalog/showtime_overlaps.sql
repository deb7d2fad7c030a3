-- A scheduled showtime on screen $3 of theater $2 (region $1) overlapping [$4, $5), other than showtime $6 (NULL:
-- none excluded). Run inside the SERIALIZABLE transaction that then writes the showtime: two concurrent writers of
-- overlapping showtimes read each other's range, and one of them fails with 40001 and, retried, finds the other.
-- A showtime lasts 12 hours at most (catalog::model::input::MAX_SHOWTIME), so an overlapping one starts after
-- $4 - 12 h: that bounds the range scan of showtimes_screen_time_idx (region, theater_id, screen_number, start_time).
-- Canceled showtimes free their slot.
-- Rows: id; zero or one.
SELECT s.id
FROM showtimes s
WHERE s.region = $1 AND s.theater_id = $2 AND s.screen_number = $3
  AND s.start_time > $4::TIMESTAMPTZ - INTERVAL '12 hours'
  AND s.start_time < $5::TIMESTAMPTZ
  AND s.end_time > $4::TIMESTAMPTZ
  AND s.status = 'scheduled'
  AND ($6::UUID IS NULL OR s.id <> $6::UUID)
LIMIT 1
