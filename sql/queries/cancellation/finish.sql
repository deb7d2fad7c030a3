-- Ends the cancellation of showtime $2 (region $1) once none of its bookings is live (reserved, payment under way
-- or paid: found through their claims, see release_holds.sql). Run in a SERIALIZABLE transaction: a booking made
-- live concurrently conflicts with this read. A lapsed hold whose claims were taken over holds nothing, and a late
-- payment of an expired booking cannot re-claim seats of a canceled showtime (claim_seats.sql): it is refunded.
-- $1 region, $2 showtime id. Returns 0 or 1 row: finished_at.
UPDATE showtime_cancellations c
SET finished_at = now(), updated_at = now()
WHERE c.region = $1 AND c.showtime_id = $2 AND c.finished_at IS NULL
  AND NOT EXISTS (
      SELECT 1
      FROM booking_seats bs
      JOIN bookings b ON b.region = bs.region AND b.id = bs.booking_id
      WHERE bs.region = $1 AND bs.showtime_id = $2 AND b.status IN ('reserved', 'payment_pending', 'paid')
  )
RETURNING c.finished_at
