-- An idempotency key that exists: replay, refuse (another request) or report in flight. Also the check after an
-- ambiguous COMMIT (on a fresh connection: found means committed).
-- $1 region, $2 user id, $3 key. Returns 0 or 1 row: request_hash, response_status, response_body.
SELECT request_hash, response_status, response_body
FROM idempotency_keys
WHERE region = $1 AND user_id = $2 AND key = $3 AND expires_at > now()
