-- The reconciler's work: charge attempts still pending or of unknown outcome, untouched for $1 seconds (longer than
-- the payment timeout, so that a live finalize request is not raced), oldest first.
-- $1 seconds (FLOAT8), $2 batch size (INT8). Returns rows: region, booking_id, attempt, amount, currency.
SELECT region, booking_id, attempt, amount, currency
FROM payments
WHERE status IN ('pending', 'unknown') AND updated_at < now() - $1::FLOAT8 * INTERVAL '1 second'
ORDER BY updated_at
LIMIT $2
