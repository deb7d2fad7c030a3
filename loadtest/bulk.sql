-- loadtest/bulk.sql — the scaling phase's data (run.sh): at least :target claims (booking_seats rows) of paid
-- bookings, one booking a row of seats, on whole showtimes that no run touches (not a work block, not a prepared
-- showtime in load_reserved, no claim yet), dated a day back so that run.sh's resets keep them. Straight INSERT ..
-- SELECT from generate_series-like joins of the seed's seats, with the foreign-key triggers off for the session (the
-- rows reference existing showtimes, users and bookings by construction); then VACUUM ANALYZE and CHECKPOINT, so
-- that the runs after it start from settled tables.
SET session_replication_role = replica;

CREATE TEMP TABLE bulk_showtimes AS
WITH sizes AS (
    SELECT region, theater_id, screen_number, count(*) AS seats FROM seats GROUP BY 1, 2, 3
), candidates AS (
    SELECT s.region, s.id, s.theater_id, s.screen_number, z.seats,
           sum(z.seats) OVER (ORDER BY s.id) AS running
    FROM showtimes s JOIN sizes z USING (region, theater_id, screen_number)
    WHERE NOT EXISTS (SELECT 1 FROM load_blocks b WHERE b.showtime_id = s.id)
      AND NOT EXISTS (SELECT 1 FROM load_reserved r WHERE r.showtime_id = s.id)
      AND NOT EXISTS (SELECT 1 FROM booking_seats c WHERE c.region = s.region AND c.showtime_id = s.id)
)
SELECT region, id, theater_id, screen_number FROM candidates WHERE running - seats < :target;

INSERT INTO bookings (region, id, user_id, showtime_id, status, seats, seat_count, total_amount, currency,
                      hold_expires_at, payment_ref, created_at, updated_at)
SELECT s.region, md5('bulk-' || s.id || '-' || st.row_label)::uuid,
       md5('load-user-' || abs(hashtext(s.id::text || st.row_label)) % :users)::uuid, s.id, 'paid',
       jsonb_agg(jsonb_build_object('label', st.seat_label, 'kind', st.kind, 'price', 1250) ORDER BY st.seat_label),
       count(*), 1250 * count(*), 'USD', NULL, 'ch_bulk', now() - INTERVAL '1 day', now() - INTERVAL '1 day'
FROM bulk_showtimes s
JOIN seats st ON st.region = s.region AND st.theater_id = s.theater_id AND st.screen_number = s.screen_number
GROUP BY s.region, s.id, st.row_label;

INSERT INTO booking_seats (region, showtime_id, seat_label, booking_id, hold_expires_at)
SELECT s.region, s.id, st.seat_label, md5('bulk-' || s.id || '-' || st.row_label)::uuid, NULL
FROM bulk_showtimes s
JOIN seats st ON st.region = s.region AND st.theater_id = s.theater_id AND st.screen_number = s.screen_number;

RESET session_replication_role;
VACUUM ANALYZE bookings;
VACUUM ANALYZE booking_seats;
CHECKPOINT;
SELECT count(*) AS booking_seats_rows FROM booking_seats;
