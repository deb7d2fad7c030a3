-- The live claims of showtimes $2 (regions $1): a seat is taken iff its booking_seats row has no expiry (paid) or an
-- expiry in the future. Run on the primary: availability is never decided from a follower read.
-- expires_in_ms: milliseconds until the hold lapses (NULL when paid), so a cache entry can expire with it.
-- Index: booking_seats_pkey prefix (region, showtime_id).
-- Rows: showtime_id, seat_label, expires_in_ms.
SELECT bs.showtime_id, bs.seat_label,
       (EXTRACT(EPOCH FROM (bs.hold_expires_at - now())) * 1000)::INT8 AS expires_in_ms
FROM booking_seats bs
WHERE bs.region = ANY($1)
  AND bs.showtime_id = ANY($2)
  AND (bs.hold_expires_at IS NULL OR bs.hold_expires_at > now())
