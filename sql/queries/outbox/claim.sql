-- The dispatcher's claim: up to $1 due, unsent outbox events, each leased for $2 seconds (next_attempt_at moved past
-- the lease, the attempt counted) so that other workers pass over it. A worker that dies mid-send leaves its events
-- to be claimed again when the lease ends: delivery is at least once (a mail's Message-ID is the event id, so a
-- repeat is recognisable). SKIP LOCKED: concurrent workers take disjoint batches instead of waiting on each other.
-- Reads through outbox_pending_idx (next_attempt_at, WHERE sent_at IS NULL).
-- $1 batch size (INT8), $2 lease in seconds (FLOAT8). Returns region, id, topic, payload, attempts.
UPDATE outbox
SET attempts = attempts + 1, next_attempt_at = now() + $2::FLOAT8 * INTERVAL '1 second'
WHERE (region, id) IN (
    SELECT region, id
    FROM outbox
    WHERE sent_at IS NULL AND next_attempt_at <= now()
    ORDER BY next_attempt_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
RETURNING region, id, topic, payload, attempts
