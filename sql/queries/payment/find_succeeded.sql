-- The successful charge of a booking (there is at most one: a paid booking is never charged again), to refund it.
-- $1 region, $2 booking id. Returns 0 or 1 row: attempt, provider_ref, amount, currency.
SELECT attempt, provider_ref, amount, currency
FROM payments
WHERE region = $1 AND booking_id = $2 AND status = 'succeeded'
ORDER BY attempt DESC
LIMIT 1
