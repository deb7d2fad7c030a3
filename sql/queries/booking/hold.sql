-- A hold in ONE statement, all or nothing (DESIGN.md §6 steps 2-3): claims the seats, then inserts their booking
-- only if every seat was claimed, the showtime is scheduled and has not started, its screen has every requested
-- seat, and the user stays within the per-user cap; the price of each seat comes from the showtime row (I5: locked
-- at hold time, nothing from the client).
-- Claims: a new claim, or the takeover of a claim whose hold has lapsed (I4), which records the previous owner in
-- taken_from (migration 0002 says why it is not read beforehand). A live claim of another booking is left alone.
-- The primary key booking_seats_pkey is the double-booking guard (I1).
-- All or nothing without a decision in between: claims whose booking was not inserted break the claims' foreign key
-- to bookings, which PostgreSQL checks at the end of the statement: the statement fails (23503) and the
-- transaction with it, so that the service can send COMMIT in the same round trip (a failed transaction's COMMIT
-- rolls back). When no seat could be claimed the statement inserts nothing and returns nothing.
-- The cap counts the user's live seats in the statement's snapshot, without this hold (a data-modifying CTE's rows
-- are not visible to the other parts of its statement, and a booking with this id is left out: a rerun after a
-- COMMIT whose outcome was lost must reach the booking insert and fail on its primary key, 23505, when the first
-- attempt did commit); under SERIALIZABLE two concurrent holds of one user cannot both pass it.
-- $1 region, $2 booking id, $3 user id, $4 showtime id, $5 seat labels (TEXT[], distinct and sorted: claims lock
-- rows in one order), $6 hold TTL in seconds (FLOAT8), $7 the per-user cap of seats on a showtime (INT8).
-- Returns one row per seat when the booking was inserted: seats, total_amount, currency, hold_expires_at,
-- created_at (the booking), seat_label, taken_from (the claim); no row when nothing was inserted; an error (23503)
-- when seats were claimed but the booking was refused. Either way, hold_refusal.sql tells why.
-- hold_batch.sql is this statement for the holds of a batch (booking::combine): a change here is a change there.
-- The pieces they share are written once in sql/fragments/ (the takeover of a claim, a live booking, the seat price,
-- the seat list), named below in double braces and put in at compile time by db::queries: what the database sees
-- is the whole statement.
WITH claimed AS (
    INSERT INTO booking_seats (region, showtime_id, seat_label, booking_id, hold_expires_at)
    SELECT $1, $4, label, $2, now() + $6::FLOAT8 * INTERVAL '1 second'
    FROM unnest($5::TEXT[]) AS label
    {{takeover}}
    RETURNING seat_label, taken_from
), booking AS (
    INSERT INTO bookings (region, id, user_id, showtime_id, status, seats, seat_count, total_amount, currency,
                          hold_expires_at, created_at, updated_at)
    SELECT s.region, $2, $3, s.id, 'reserved',
           {{seat_list}},
           s.currency, now() + $6::FLOAT8 * INTERVAL '1 second', now(), now()
    FROM showtimes s
    JOIN seats st
      ON st.region = s.region AND st.theater_id = s.theater_id AND st.screen_number = s.screen_number
     AND st.seat_label = ANY($5::TEXT[])
    -- The seat's price by its kind (sql/fragments/seat_price.sql), once for the seat list and the total.
    {{seat_price}}
    WHERE s.region = $1 AND s.id = $4 AND s.status = 'scheduled' AND s.start_time > now()
      AND (SELECT count(*) FROM claimed) = cardinality($5::TEXT[])
      AND (SELECT COALESCE(SUM(b.seat_count), 0)
           FROM bookings b
           WHERE b.region = $1 AND b.showtime_id = $4 AND b.user_id = $3 AND b.id <> $2
             AND {{live_booking}})
          + cardinality($5::TEXT[]) <= $7::INT8
    GROUP BY s.region, s.id, s.currency
    HAVING count(*) = cardinality($5::TEXT[])
    RETURNING seats, total_amount, currency, hold_expires_at, created_at
)
SELECT b.seats, b.total_amount, b.currency, b.hold_expires_at, b.created_at, c.seat_label, c.taken_from
FROM booking b
CROSS JOIN claimed c
