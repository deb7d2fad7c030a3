-- 0003: the twin of sql/migrations/postgres/0003_payment_attempts.sql (the reasons are given there): a booking
-- counts its charge attempts itself. One idempotent statement at a time, like 0001; the UPDATE sets a value read
-- from the payments, so running it again changes nothing.

ALTER TABLE bookings ADD COLUMN IF NOT EXISTS payment_attempts INT4 NOT NULL DEFAULT 0;

UPDATE bookings AS b
SET payment_attempts = p.last_attempt
FROM (SELECT region, booking_id, max(attempt) AS last_attempt FROM payments GROUP BY region, booking_id) AS p
WHERE b.region = p.region AND b.id = p.booking_id AND b.payment_attempts < p.last_attempt;
