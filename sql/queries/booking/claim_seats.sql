-- Claims seats for a booking in ONE statement: a late payment re-claiming its seats for good (finalize, reconciler;
-- a hold claims its seats in hold.sql): its own claims, or lapsed claims of others, taken over (I4). A live claim of
-- another booking is left alone and its label is missing from the result: fewer rows than asked means taken, and
-- the caller rolls back. The primary key booking_seats_pkey is the double-booking guard (I1).
-- A takeover records the previous owner in taken_from (migration 0002 says why it is not read beforehand), so that
-- the caller can expire that booking in the same transaction.
-- $1 region, $2 showtime id, $3 seat labels (TEXT[], sorted: claims lock rows in one order), $4 booking id,
-- $5 hold_expires_at (NULL: the seats are held for good, a paid booking).
-- Nothing is claimed on a canceled showtime (issue #17): a payment that completes after its showtime was canceled
-- gets no seats, and the caller refunds it (finalize's tx3 and the reconciler, before or after the cancellation
-- reached the booking: never kept). The read of the showtime's status orders this transaction against the
-- cancellation's.
-- Returns one row per claimed seat: seat_label, taken_from (the booking whose lapsed claim was taken over by this
-- statement, else NULL). The takeover clause is sql/fragments/takeover.sql (shared with the holds; db::queries
-- puts it in at compile time).
INSERT INTO booking_seats (region, showtime_id, seat_label, booking_id, hold_expires_at)
SELECT $1, $2, label, $4::UUID, $5::TIMESTAMPTZ FROM unnest($3::TEXT[]) AS label
WHERE EXISTS (SELECT 1 FROM showtimes s WHERE s.region = $1 AND s.id = $2 AND s.status = 'scheduled')
{{takeover}}
RETURNING seat_label, taken_from
