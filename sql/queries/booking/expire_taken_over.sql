-- Expires the bookings whose lapsed claims a hold has just taken over (same transaction as the takeover), and deletes
-- their remaining claims: a booking that lost a seat has lost its hold. Claims already taken over point to the new
-- booking and are not touched.
-- Lock order: the hold has locked its claims, then this locks the old bookings (in key order: one scan of the
-- primary key), then their remaining claims, skipping those another hold has locked: that hold is taking them over
-- (and replaces them when it commits). Waiting for them instead deadlocked two holds that took over different seats
-- of one lapsed booking: each waited for the other's claim while holding its own (1 s of PostgreSQL's deadlock
-- detection, then a retry). A claim skipped here and not taken over after all is lapsed: it blocks nothing (I4).
-- $1 region, $2 booking ids (UUID[]). Returns nothing.
-- Keyed: the rows are found by (region, id) alone (the ids in $2). The guard is wrapped in (...) IS TRUE, which no
-- index matches, so no statistics can make the generic plan scan bookings_status_expiry_idx for it (a range scan
-- whose predicate locks cover the pages every concurrent hold and payment writes; README, "Transactions").
WITH expired AS (
    UPDATE bookings SET status = 'expired', updated_at = now()
    WHERE region = $1 AND id = ANY($2) AND (status IN ('reserved', 'payment_pending')) IS TRUE
    RETURNING id
), leftover AS (
    SELECT showtime_id, seat_label
    FROM booking_seats
    WHERE region = $1 AND booking_id IN (SELECT id FROM expired)
    FOR UPDATE SKIP LOCKED
)
DELETE FROM booking_seats bs
USING leftover l
WHERE bs.region = $1 AND bs.showtime_id = l.showtime_id AND bs.seat_label = l.seat_label
