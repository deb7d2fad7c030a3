-- The holds of one batch (booking::combine) in ONE statement: hold.sql for several holds of one region at once, so
-- that the batch pays the statement's start-up once instead of once per hold. Each hold is still all or nothing,
-- exactly as in hold.sql (read it first): its claims, then its booking only if every seat was claimed, its showtime
-- is scheduled and has not started, its screen has every requested seat, and its user stays within the per-user
-- cap; a hold that claimed seats without its booking breaks the claims' foreign key, which fails the statement (23503)
-- and with it the batch, whose holds then run alone.
-- What the batch guarantees (booking::combine): no two holds share a seat, and no two holds are of one user and one
-- showtime, so the cap of each hold counts only what was committed before the statement (its snapshot), as
-- hold.sql's does. Seats are claimed in the order given: the batch's global lock order.
-- $1 region, $2 booking ids (UUID[], one per hold), $3 user ids (UUID[]), $4 showtime ids (UUID[]), $5 each hold's
-- seat count (INT8[]), $6 the hold of each seat (INT8[]: the 1-based position of its hold in $2), $7 the seat labels
-- (TEXT[], one per seat, in lock order), $8 hold TTL in seconds (FLOAT8), $9 the per-user cap of seats on a showtime
-- (INT8).
-- Returns one row per seat of each booking inserted: booking_id, then hold.sql's columns (seats, total_amount,
-- currency, hold_expires_at, created_at, seat_label, taken_from). A hold with no row inserted nothing.
-- The pieces shared with hold.sql are in sql/fragments/, named in double braces (db::queries puts them in).
WITH holds AS (
    SELECT h.n, h.id, h.user_id, h.showtime_id, h.seat_count
    FROM unnest($2::UUID[], $3::UUID[], $4::UUID[], $5::INT8[]) WITH ORDINALITY AS h(id, user_id, showtime_id, seat_count, n)
), wanted AS (
    SELECT w.n, w.hold, w.label
    FROM unnest($6::INT8[], $7::TEXT[]) WITH ORDINALITY AS w(hold, label, n)
), claimed AS (
    INSERT INTO booking_seats (region, showtime_id, seat_label, booking_id, hold_expires_at)
    SELECT $1, h.showtime_id, w.label, h.id, now() + $8::FLOAT8 * INTERVAL '1 second'
    FROM wanted w
    JOIN holds h ON h.n = w.hold
    ORDER BY w.n
    {{takeover}}
    RETURNING booking_id, seat_label, taken_from
), booking AS (
    INSERT INTO bookings (region, id, user_id, showtime_id, status, seats, seat_count, total_amount, currency,
                          hold_expires_at, created_at, updated_at)
    SELECT s.region, h.id, h.user_id, s.id, 'reserved',
           {{seat_list}},
           s.currency, now() + $8::FLOAT8 * INTERVAL '1 second', now(), now()
    FROM holds h
    JOIN showtimes s ON s.region = $1 AND s.id = h.showtime_id
    JOIN wanted w ON w.hold = h.n
    JOIN seats st
      ON st.region = s.region AND st.theater_id = s.theater_id AND st.screen_number = s.screen_number
     AND st.seat_label = w.label
    -- The seat's price by its kind (sql/fragments/seat_price.sql), once for the seat list and the total.
    {{seat_price}}
    WHERE s.status = 'scheduled' AND s.start_time > now()
      AND (SELECT count(*) FROM claimed c WHERE c.booking_id = h.id) = h.seat_count
      AND (SELECT COALESCE(SUM(b.seat_count), 0)
           FROM bookings b
           WHERE b.region = $1 AND b.showtime_id = h.showtime_id AND b.user_id = h.user_id AND b.id <> h.id
             AND {{live_booking}})
          + h.seat_count <= $9::INT8
    GROUP BY s.region, s.id, s.currency, h.id, h.user_id, h.seat_count
    HAVING count(*) = h.seat_count
    RETURNING id, seats, total_amount, currency, hold_expires_at, created_at
)
SELECT b.id AS booking_id, b.seats, b.total_amount, b.currency, b.hold_expires_at, b.created_at, c.seat_label,
       c.taken_from
FROM booking b
JOIN claimed c ON c.booking_id = b.id
