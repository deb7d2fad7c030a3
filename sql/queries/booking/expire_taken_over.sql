-- Expires the bookings whose lapsed claims a hold has just taken over (same transaction as the takeover), and deletes
-- their remaining claims: a booking that lost a seat has lost its hold. Claims already taken over point to the new
-- booking and are not touched.
-- $1 region, $2 booking ids (UUID[]). Returns nothing.
WITH expired AS (
    UPDATE bookings SET status = 'expired', updated_at = now()
    WHERE region = $1 AND id = ANY($2) AND status IN ('reserved', 'payment_pending')
    RETURNING id
)
DELETE FROM booking_seats
WHERE region = $1 AND booking_id IN (SELECT id FROM expired)
