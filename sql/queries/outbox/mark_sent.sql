-- An event whose delivery is over: sent, or refused for good by the mail server ($3 says why; NULL when sent).
-- $1 region, $2 event id, $3 last error (TEXT, may be NULL). Returns nothing.
UPDATE outbox SET sent_at = now(), last_error = $3 WHERE region = $1 AND id = $2 AND sent_at IS NULL
