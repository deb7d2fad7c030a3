-- Claims an idempotency key (DESIGN.md §6 step 1) in the transaction of the work it protects. A hold stores its
-- response here at once (the row is only visible if the hold commits); a finalize or cancel stores NULL (in flight)
-- and its response when it is resolved. An existing key is left alone (the caller reads it: idempotency_find.sql)
-- unless it is past its 24 hours and not yet purged, or was left in flight for longer than $7 seconds by the same
-- request (a crashed process): those are taken over rather than blocking retries.
-- $1 region, $2 user id, $3 key, $4 request hash, $5 response status (INT4, NULL: in flight), $6 response body
-- (JSONB), $7 seconds after which an in-flight key is abandoned (FLOAT8).
-- Returns one row when the key was claimed, none when it exists.
INSERT INTO idempotency_keys (region, user_id, key, request_hash, response_status, response_body, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, now() + INTERVAL '24 hours')
ON CONFLICT (region, user_id, key) DO UPDATE
    SET request_hash = excluded.request_hash, response_status = excluded.response_status,
        response_body = excluded.response_body, created_at = now(), expires_at = excluded.expires_at
    WHERE idempotency_keys.expires_at <= now()
       OR (idempotency_keys.response_status IS NULL
           AND idempotency_keys.request_hash = excluded.request_hash
           AND idempotency_keys.created_at < now() - $7::FLOAT8 * INTERVAL '1 second')
RETURNING 1 AS claimed
