-- loadtest/backlog.sql — the drain phase's backlog (run.sh; issue 23): what a sold-out night leaves the worker.
-- :holds reserved one-seat bookings whose holds lapsed a minute ago with their claims still in place (for the
-- sweeper), and :mails paid one-seat bookings each with its unsent `booking.paid` event (for the dispatcher), on
-- whole showtimes that no run touches (not a work block, not a prepared showtime, no claim yet), users
-- md5('load-user-<n>') of :users. Straight INSERT .. SELECT with the foreign-key triggers off for the session (the
-- rows reference existing showtimes and users by construction), then VACUUM ANALYZE and CHECKPOINT.
SET session_replication_role = replica;

CREATE TEMP TABLE backlog_seats AS
WITH candidates AS (
    SELECT s.region, s.id, s.theater_id, s.screen_number
    FROM showtimes s
    WHERE s.start_time > now() + INTERVAL '1 day'
      AND NOT EXISTS (SELECT 1 FROM load_blocks b WHERE b.showtime_id = s.id)
      AND NOT EXISTS (SELECT 1 FROM load_reserved r WHERE r.showtime_id = s.id)
      AND NOT EXISTS (SELECT 1 FROM booking_seats c WHERE c.region = s.region AND c.showtime_id = s.id)
    ORDER BY s.id
    LIMIT (:holds + :mails) / 100 + 10
)
SELECT c.region, c.id AS showtime_id, st.seat_label, st.kind,
       row_number() OVER (ORDER BY c.id, st.seat_label) AS n
FROM candidates c
JOIN seats st ON st.region = c.region AND st.theater_id = c.theater_id AND st.screen_number = c.screen_number;

INSERT INTO bookings (region, id, user_id, showtime_id, status, seats, seat_count, total_amount, currency,
                      hold_expires_at, payment_ref, created_at, updated_at)
SELECT region, md5('backlog-' || n)::uuid, md5('load-user-' || n % :users)::uuid, showtime_id,
       CASE WHEN n <= :holds THEN 'reserved' ELSE 'paid' END,
       jsonb_build_array(jsonb_build_object('label', seat_label, 'kind', kind, 'price', 1250)), 1, 1250, 'USD',
       CASE WHEN n <= :holds THEN now() - INTERVAL '1 minute' END,
       CASE WHEN n > :holds THEN 'ch_backlog' END,
       now() - INTERVAL '11 minutes', now() - INTERVAL '11 minutes'
FROM backlog_seats WHERE n <= :holds + :mails;

INSERT INTO booking_seats (region, showtime_id, seat_label, booking_id, hold_expires_at)
SELECT region, showtime_id, seat_label, md5('backlog-' || n)::uuid,
       CASE WHEN n <= :holds THEN now() - INTERVAL '1 minute' END
FROM backlog_seats WHERE n <= :holds + :mails;

INSERT INTO outbox (region, id, topic, payload, created_at, next_attempt_at)
SELECT region, md5('backlog-mail-' || n)::uuid, 'booking.paid',
       jsonb_build_object('bookingId', md5('backlog-' || n)::uuid, 'userId', md5('load-user-' || n % :users)::uuid,
                          'showtimeId', showtime_id, 'status', 'paid',
                          'seats', jsonb_build_array(jsonb_build_object('label', seat_label, 'kind', kind,
                                                                        'price', 1250)),
                          'total', 1250, 'currency', 'USD', 'paymentRef', 'ch_backlog'),
       now() - INTERVAL '5 minutes', now() - INTERVAL '5 minutes'
FROM backlog_seats WHERE n > :holds AND n <= :holds + :mails;

RESET session_replication_role;
VACUUM ANALYZE bookings;
VACUUM ANALYZE booking_seats;
VACUUM ANALYZE outbox;
CHECKPOINT;
SELECT json_build_object(
    'lapsedHolds', (SELECT count(*) FROM bookings WHERE status = 'reserved' AND hold_expires_at < now()),
    'unsentMails', (SELECT count(*) FROM outbox WHERE sent_at IS NULL));
