-- The worker's work: cancellations without progress for $1 seconds (longer than a request spends on one, so that a
-- live request is not raced for nothing; racing is safe anyway), least recently advanced first.
-- $1 seconds (FLOAT8), $2 batch size (INT8). Returns rows: region, showtime_id.
SELECT region, showtime_id
FROM showtime_cancellations
WHERE finished_at IS NULL AND updated_at < now() - $1::FLOAT8 * INTERVAL '1 second'
ORDER BY updated_at
LIMIT $2
