-- Forgets an in-flight key whose request ended without a definite answer (payment outcome unknown), so that a retry
-- with the same key runs again and sees the booking's current state instead of a stale error.
-- $1 region, $2 user id, $3 key. Returns nothing.
DELETE FROM idempotency_keys
WHERE region = $1 AND user_id = $2 AND key = $3 AND response_status IS NULL
