-- 0003: a booking counts its charge attempts itself.
--
-- payment/insert.sql numbered a charge attempt with MAX(attempt) + 1 over the booking's payments. Under PostgreSQL's
-- SERIALIZABLE that read takes a predicate lock on the payments_pkey leaf page it scans, a page where payments of
-- other bookings insert: a read-write dependency between unrelated payments, one more way for buyers paying at once
-- to roll each other back. start_payment.sql updates the booking row anyway; it now counts the attempt there, and
-- the payment row is inserted without a read.
ALTER TABLE bookings ADD COLUMN payment_attempts INT NOT NULL DEFAULT 0;

-- Bookings paid (or tried) before this migration continue from their last attempt number.
UPDATE bookings b
SET payment_attempts = p.last_attempt
FROM (SELECT region, booking_id, MAX(attempt) AS last_attempt FROM payments GROUP BY region, booking_id) p
WHERE b.region = p.region AND b.id = p.booking_id;
