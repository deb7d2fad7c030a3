-- Deletes up to $1 expired idempotency keys (keys live 24 h). Batched so one run never holds a long transaction.
-- $1 batch size (INT8). Returns nothing; the row count tells whether to run again.
DELETE FROM idempotency_keys
WHERE (region, user_id, key) IN (
    SELECT region, user_id, key FROM idempotency_keys WHERE expires_at < now() LIMIT $1
)
