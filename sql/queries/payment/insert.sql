-- Records a charge attempt before the provider is called (finalize tx1): attempt numbers count up per booking and the
-- provider idempotency key is '{booking}:{attempt}' (DESIGN.md §6). payments_pkey guards the attempt number.
-- $1 region, $2 booking id, $3 provider name, $4 amount (INT8), $5 currency. Returns one row: attempt (INT4).
INSERT INTO payments (region, booking_id, attempt, provider, amount, currency, status)
SELECT $1, $2, COALESCE(MAX(attempt), 0) + 1, $3::TEXT, $4::INT8, $5::TEXT, 'pending'
FROM payments
WHERE region = $1 AND booking_id = $2
RETURNING attempt
