-- The sweeper's write (DESIGN.md §6 "Expiry"; src/booking/sweep.rs): the candidates of lapsed.sql given by key,
-- those still reserved and past their hold, become expired and their claims are deleted, in one statement of a
-- short SERIALIZABLE transaction. Every booking is reached by its primary key and its guard is written
-- `(...) IS TRUE` (src/booking/README.md: a plain guard can let the generic plan take bookings_status_expiry_idx,
-- whose range predicate locks cover the pages concurrent holds insert into). The caller keeps the chunk small
-- (src/booking/sweep.rs, halved on contention) so that its predicate locks stay row and page locks.
-- SKIP LOCKED never makes a hold wait: a booking or claim a hold is taking over right now is left to that hold
-- (expire_taken_over.sql); a skipped claim is lapsed, so it blocks nothing (I4). Claims taken over by newer holds
-- point to those holds and are not touched: the claims are found by booking_id.
-- $1 regions (TEXT[]), $2 booking ids (UUID[]), pairwise. Returns one row: expired (INT8, bookings expired),
-- showtimes (UUID[], those whose claims were released: their seat caches are invalidated after the commit).
WITH due AS (
    SELECT b.region, b.id
    FROM bookings b
    JOIN unnest($1::TEXT[], $2::UUID[]) AS c(region, id) ON b.region = c.region AND b.id = c.id
    WHERE (b.status = 'reserved' AND b.hold_expires_at < now()) IS TRUE
    FOR UPDATE OF b SKIP LOCKED
), expired AS (
    UPDATE bookings b
    SET status = 'expired', updated_at = now()
    FROM due
    WHERE b.region = due.region AND b.id = due.id
    RETURNING b.region, b.id
), leftover AS (
    SELECT bs.region, bs.showtime_id, bs.seat_label
    FROM expired e
    JOIN booking_seats bs ON bs.region = e.region AND bs.booking_id = e.id
    FOR UPDATE OF bs SKIP LOCKED
), released AS (
    DELETE FROM booking_seats bs
    USING leftover l
    WHERE bs.region = l.region AND bs.showtime_id = l.showtime_id AND bs.seat_label = l.seat_label
    RETURNING bs.showtime_id
)
SELECT (SELECT count(*) FROM expired)::INT8 AS expired,
       ARRAY(SELECT DISTINCT showtime_id FROM released) AS showtimes
