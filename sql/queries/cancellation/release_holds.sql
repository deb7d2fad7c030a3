-- One batch of a showtime cancellation: up to $3 reserved bookings of canceled showtime $2 (region $1) end, in one
-- statement: an unexpired hold becomes canceled and its owner is mailed (an outbox event, in this transaction); a
-- lapsed one becomes expired, as the sweeper would have made it. Their claims are deleted.
-- The bookings are found through their claims (booking_seats_pkey prefix (region, showtime_id)): a booking that
-- still holds a seat has a claim, and bookings has no index led by the showtime (migration 0002 says why).
-- Nothing happens unless the showtime is canceled: the read of its status also orders this transaction after the
-- one that canceled it, and before any that would make a booking live (they all check the status).
-- $1 region, $2 showtime id, $3 batch size (INT8).
-- Returns one row: ended (bookings ended), canceled (of which canceled and mailed), released (claims deleted).
WITH showtime AS (
    SELECT region, id FROM showtimes WHERE region = $1 AND id = $2 AND status = 'canceled'
), due AS (
    SELECT DISTINCT b.region, b.id
    FROM showtime s
    JOIN booking_seats bs ON bs.region = s.region AND bs.showtime_id = s.id
    JOIN bookings b ON b.region = bs.region AND b.id = bs.booking_id
    WHERE b.status = 'reserved'
    ORDER BY b.id
    LIMIT $3
), ended AS (
    UPDATE bookings b
    SET status = CASE WHEN b.hold_expires_at > now() THEN 'canceled' ELSE 'expired' END, updated_at = now()
    FROM due
    WHERE b.region = due.region AND b.id = due.id AND b.status = 'reserved'
    RETURNING b.region, b.id, b.user_id, b.showtime_id, b.status, b.seats, b.total_amount, b.currency, b.payment_ref
), released AS (
    DELETE FROM booking_seats bs
    USING ended e
    WHERE bs.region = e.region AND bs.showtime_id = e.showtime_id AND bs.booking_id = e.id
    RETURNING bs.booking_id
), mailed AS (
    -- The payload of booking::service's outbox_payload, with the reason for the mail.
    INSERT INTO outbox (region, topic, payload)
    SELECT e.region, 'booking.canceled', jsonb_build_object(
               'bookingId', e.id, 'userId', e.user_id, 'showtimeId', e.showtime_id, 'status', e.status,
               'seats', e.seats, 'total', e.total_amount, 'currency', e.currency, 'paymentRef', e.payment_ref,
               'reason', 'showtime_canceled')
    FROM ended e
    WHERE e.status = 'canceled'
    RETURNING id
)
SELECT (SELECT count(*) FROM ended) AS ended,
       (SELECT count(*) FROM mailed) AS canceled,
       (SELECT count(*) FROM released) AS released
