-- Records a charge attempt before the provider is called (finalize tx1). The attempt number comes from the booking's
-- payment_attempts, counted up by start_payment.sql in the same transaction; the provider idempotency key is
-- '{booking}:{attempt}' (DESIGN.md §6). No read of payments here: see migration 0003. payments_pkey guards the number.
-- $1 region, $2 booking id, $3 provider name, $4 amount (INT8), $5 currency, $6 attempt (INT4).
INSERT INTO payments (region, booking_id, attempt, provider, amount, currency, status)
VALUES ($1, $2, $6::INT4, $3::TEXT, $4::INT8, $5::TEXT, 'pending')
