-- Why a hold inserted no booking (hold.sql), read after its transaction rolled back: the showtime's state and the
-- transaction's clock, the kind of each requested seat that the showtime's screen has (a LEFT JOIN: one row with
-- NULL seat columns when none matches, so an unknown showtime is the only zero-row answer), the requested seats
-- with a live claim of another booking, and the user's live seats on the showtime in other bookings (the per-user
-- cap). A later snapshot than the hold's: what was in the way may have gone, and then the hold runs again.
-- $1 region, $2 showtime id, $3 requested seat labels (TEXT[]), $4 user id, $5 the hold's booking id.
-- Returns one row per known requested seat: now, status, start_time, seat_label, kind, and on every row taken
-- (TEXT[], sorted) and user_seats (INT8). A live booking is sql/fragments/live_booking.sql, as in hold.sql's cap.
SELECT now() AS now, s.status, s.start_time, st.seat_label, st.kind,
       ARRAY(SELECT bs.seat_label
             FROM booking_seats bs
             WHERE bs.region = $1 AND bs.showtime_id = $2 AND bs.seat_label = ANY($3) AND bs.booking_id <> $5
               AND (bs.hold_expires_at IS NULL OR bs.hold_expires_at >= now())
             ORDER BY bs.seat_label) AS taken,
       (SELECT COALESCE(SUM(b.seat_count), 0)::INT8
        FROM bookings b
        WHERE b.region = $1 AND b.showtime_id = $2 AND b.user_id = $4 AND b.id <> $5
          AND {{live_booking}})
           AS user_seats
FROM showtimes s
LEFT JOIN seats st
       ON st.region = s.region AND st.theater_id = s.theater_id AND st.screen_number = s.screen_number
      AND st.seat_label = ANY($3)
WHERE s.region = $1 AND s.id = $2
