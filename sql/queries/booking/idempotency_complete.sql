-- Stores the final response of a request whose key was claimed in flight (finalize).
-- $1 region, $2 user id, $3 key, $4 response status (INT4), $5 response body (JSONB). Returns nothing.
UPDATE idempotency_keys SET response_status = $4, response_body = $5
WHERE region = $1 AND user_id = $2 AND key = $3
