-- A hold's booking and claims in ONE statement (DESIGN.md §6 steps 2-3). Inserts the booking, with the price of
-- each seat taken from the showtime row (I5: locked at hold time, inside the transaction, nothing from the client),
-- provided the showtime is scheduled, has not started, and its screen has every requested seat; then claims the
-- seats: a new claim, or the takeover of a claim whose hold has lapsed (I4), which records the previous owner in
-- taken_from (migration 0002 says why it is not read beforehand). A live claim of another booking is left alone and
-- its label is missing from the result: fewer claimed seats than asked means taken, and the caller rolls back. The
-- primary key booking_seats_pkey is the double-booking guard (I1); the claims' foreign key to the booking is checked
-- at the end of the statement, when the booking row exists.
-- $1 region, $2 booking id, $3 user id, $4 showtime id, $5 seat labels (TEXT[], distinct and sorted: claims lock
-- rows in one order), $6 hold TTL in seconds (FLOAT8).
-- Returns no row when no booking was inserted (unknown showtime or seat, or the showtime is closed:
-- hold_context.sql tells which); else one row per claimed seat, or one row with a NULL seat_label when none was:
-- seats, total_amount, currency, hold_expires_at, created_at (the booking), seat_label, taken_from (the claim).
WITH booking AS (
    INSERT INTO bookings (region, id, user_id, showtime_id, status, seats, seat_count, total_amount, currency,
                          hold_expires_at, created_at, updated_at)
    SELECT s.region, $2, $3, s.id, 'reserved',
           jsonb_agg(jsonb_build_object(
               'label', st.seat_label,
               'kind', st.kind,
               'price', CASE st.kind WHEN 'premium' THEN s.price_premium WHEN 'accessible' THEN s.price_accessible
                                     WHEN 'companion' THEN s.price_companion ELSE s.price_standard END
           ) ORDER BY st.seat_label),
           count(*),
           sum(CASE st.kind WHEN 'premium' THEN s.price_premium WHEN 'accessible' THEN s.price_accessible
                            WHEN 'companion' THEN s.price_companion ELSE s.price_standard END),
           s.currency, now() + $6::FLOAT8 * INTERVAL '1 second', now(), now()
    FROM showtimes s
    JOIN seats st
      ON st.region = s.region AND st.theater_id = s.theater_id AND st.screen_number = s.screen_number
     AND st.seat_label = ANY($5::TEXT[])
    WHERE s.region = $1 AND s.id = $4 AND s.status = 'scheduled' AND s.start_time > now()
    GROUP BY s.region, s.id, s.currency
    HAVING count(*) = array_length($5::TEXT[], 1)
    RETURNING region, id, showtime_id, seats, total_amount, currency, hold_expires_at, created_at
), claimed AS (
    INSERT INTO booking_seats (region, showtime_id, seat_label, booking_id, hold_expires_at)
    SELECT b.region, b.showtime_id, label, b.id, b.hold_expires_at
    FROM booking b, unnest($5::TEXT[]) AS label
    ON CONFLICT (region, showtime_id, seat_label) DO UPDATE
        SET booking_id = excluded.booking_id,
            hold_expires_at = excluded.hold_expires_at,
            taken_from = CASE WHEN booking_seats.booking_id = excluded.booking_id THEN NULL ELSE booking_seats.booking_id END
        WHERE booking_seats.hold_expires_at < now() OR booking_seats.booking_id = excluded.booking_id
    RETURNING seat_label, taken_from
)
SELECT b.seats, b.total_amount, b.currency, b.hold_expires_at, b.created_at, c.seat_label, c.taken_from
FROM booking b
LEFT JOIN claimed c ON true
