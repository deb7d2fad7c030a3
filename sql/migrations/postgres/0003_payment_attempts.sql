-- 0003: a booking counts its charge attempts itself.
--
-- payment/insert.sql numbered a charge attempt with MAX(attempt) + 1 over the booking's payments. Under PostgreSQL's
-- SERIALIZABLE that read takes a predicate lock on the payments_pkey leaf page it scans, the page a concurrent
-- payment of a nearby booking inserts into: two buyers paying at once formed a read-write cycle and one was rolled
-- back. In the load run's k6 booking scenario (32 buyers, hold then pay) finalize_start averaged three retries a
-- payment. start_payment.sql updates the booking row anyway; it now counts the attempt there and the payment row is
-- inserted without a read.
ALTER TABLE bookings ADD COLUMN payment_attempts INT NOT NULL DEFAULT 0;

-- Bookings paid (or tried) before this migration continue from their last attempt number.
UPDATE bookings b
SET payment_attempts = p.last_attempt
FROM (SELECT region, booking_id, MAX(attempt) AS last_attempt FROM payments GROUP BY region, booking_id) p
WHERE b.region = p.region AND b.id = p.booking_id;
