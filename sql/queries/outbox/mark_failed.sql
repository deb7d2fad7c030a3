-- A delivery that failed for now: tried again after $4 seconds (the dispatcher's backoff), with the error kept for
-- operators. $1 region, $2 event id, $3 error (TEXT), $4 delay in seconds (FLOAT8). Returns nothing.
UPDATE outbox SET last_error = $3, next_attempt_at = now() + $4::FLOAT8 * INTERVAL '1 second'
WHERE region = $1 AND id = $2 AND sent_at IS NULL
