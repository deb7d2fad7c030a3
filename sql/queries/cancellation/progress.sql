-- Where the cancellation of showtime $2 (region $1) stands: its counters, and the bookings of the showtime still
-- live, found through their claims (see release_holds.sql): payments under way, and others (holds, paid bookings:
-- the next batches' work).
-- $1 region, $2 showtime id. Returns 0 or 1 row: canceled, refunded (INT8), finished (BOOL), pending, remaining (INT8).
SELECT c.canceled, c.refunded, c.finished_at IS NOT NULL AS finished,
       COALESCE(l.pending, 0) AS pending, COALESCE(l.remaining, 0) AS remaining
FROM showtime_cancellations c
LEFT JOIN (
    SELECT bs.region,
           count(DISTINCT b.id) FILTER (WHERE b.status = 'payment_pending') AS pending,
           count(DISTINCT b.id) FILTER (WHERE b.status IN ('reserved', 'paid')) AS remaining
    FROM booking_seats bs
    JOIN bookings b ON b.region = bs.region AND b.id = bs.booking_id
    WHERE bs.region = $1 AND bs.showtime_id = $2
    GROUP BY bs.region
) l ON l.region = c.region
WHERE c.region = $1 AND c.showtime_id = $2
