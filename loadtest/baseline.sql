-- loadtest/baseline.sql — run.sh's baseline: 70 paid two-seat bookings on each work block from :first on (pairs of
-- rows A-J, numbers 1-14, users md5('load-user-<n>') of :users), dated a day back so that the resets keep them.
INSERT INTO bookings (region, id, user_id, showtime_id, status, seats, seat_count, total_amount, currency,
                      hold_expires_at, payment_ref, created_at, updated_at)
SELECT b.region, md5('baseline-' || b.n || '-' || p)::uuid, md5('load-user-' || (b.n * 70 + p) % :users)::uuid,
       b.showtime_id, 'paid',
       jsonb_build_array(
           jsonb_build_object('label', chr(65 + p / 7) || (2 * (p % 7) + 1), 'kind', 'standard', 'price', 1250),
           jsonb_build_object('label', chr(65 + p / 7) || (2 * (p % 7) + 2), 'kind', 'standard', 'price', 1250)),
       2, 2500, 'USD', NULL, 'ch_baseline', now() - INTERVAL '1 day', now() - INTERVAL '1 day'
FROM load_blocks b CROSS JOIN generate_series(0, 69) p
WHERE b.n >= :first;
INSERT INTO booking_seats (region, showtime_id, seat_label, booking_id, hold_expires_at)
SELECT b.region, b.showtime_id, chr(65 + p / 7) || (2 * (p % 7) + k), md5('baseline-' || b.n || '-' || p)::uuid, NULL
FROM load_blocks b CROSS JOIN generate_series(0, 69) p CROSS JOIN generate_series(1, 2) k
WHERE b.n >= :first;
VACUUM ANALYZE;
