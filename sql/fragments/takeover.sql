-- The takeover clause of a seat claim (I4), the tail of `INSERT INTO booking_seats ...`: a seat without a claim is
-- claimed; a claim whose hold has lapsed, or the booking's own claim, is taken over, and a takeover records the
-- previous owner in taken_from (migration 0002 says why it is not read beforehand). A live claim of another booking
-- is left alone: the row is not returned. Used by hold.sql, hold_batch.sql and claim_seats.sql as {{takeover}}.
ON CONFLICT (region, showtime_id, seat_label) DO UPDATE
        SET booking_id = excluded.booking_id,
            hold_expires_at = excluded.hold_expires_at,
            taken_from = CASE WHEN booking_seats.booking_id = excluded.booking_id THEN NULL ELSE booking_seats.booking_id END
        WHERE booking_seats.hold_expires_at < now() OR booking_seats.booking_id = excluded.booking_id
