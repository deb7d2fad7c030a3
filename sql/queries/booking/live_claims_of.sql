-- The seats among $3 that are claimed live on showtime $2 (region $1): claimed with no expiry (paid) or an expiry in
-- the future. Read inside a best-available hold's transaction before it claims (booking::pick guards): under
-- SERIALIZABLE the read conflicts with a concurrent hold that claims one of these seats, so two proposals made on
-- the same stale map cannot both commit and strand a seat between them.
-- Index: booking_seats_pkey (region, showtime_id, seat_label).
-- $1 region, $2 showtime id, $3 seat labels (TEXT[]). Rows: seat_label.
SELECT bs.seat_label
FROM booking_seats bs
WHERE bs.region = $1
  AND bs.showtime_id = $2
  AND bs.seat_label = ANY($3::TEXT[])
  AND (bs.hold_expires_at IS NULL OR bs.hold_expires_at > now())
