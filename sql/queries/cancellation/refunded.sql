-- A batch of a showtime cancellation, after the provider refunded its paid bookings: each charge becomes refunded,
-- its booking canceled (if still paid: an owner's own cancellation may have got there first, refunding with the
-- same idempotency key), its claims deleted, and its owner mailed (an outbox event, in this transaction).
-- $1 region, $2 booking ids (UUID[]), $3 their refunded charge attempts (INT4[], same order).
-- Returns one row: canceled (bookings canceled), released (claims deleted).
WITH refunds AS (
    SELECT r.id, r.attempt FROM unnest($2::UUID[], $3::INT4[]) AS r(id, attempt)
), charges AS (
    UPDATE payments p
    SET status = 'refunded', updated_at = now()
    FROM refunds r
    WHERE p.region = $1 AND p.booking_id = r.id AND p.attempt = r.attempt AND p.status = 'succeeded'
    RETURNING p.booking_id
), ended AS (
    UPDATE bookings b
    SET status = 'canceled', updated_at = now()
    FROM charges c
    WHERE b.region = $1 AND b.id = c.booking_id AND b.status = 'paid'
    RETURNING b.region, b.id, b.user_id, b.showtime_id, b.status, b.seats, b.total_amount, b.currency, b.payment_ref
), released AS (
    DELETE FROM booking_seats bs
    USING ended e
    WHERE bs.region = e.region AND bs.showtime_id = e.showtime_id AND bs.booking_id = e.id
    RETURNING bs.booking_id
), mailed AS (
    INSERT INTO outbox (region, topic, payload)
    SELECT e.region, 'booking.canceled', jsonb_build_object(
               'bookingId', e.id, 'userId', e.user_id, 'showtimeId', e.showtime_id, 'status', e.status,
               'seats', e.seats, 'total', e.total_amount, 'currency', e.currency, 'paymentRef', e.payment_ref,
               'reason', 'showtime_canceled')
    FROM ended e
    RETURNING id
)
SELECT (SELECT count(*) FROM mailed) AS canceled, (SELECT count(*) FROM released) AS released
