-- Ends the delivery of several events of one region at once (the dispatcher's batch: one statement instead of one
-- transaction a mail): sent, or refused for good with $3 as the reason of each (NULL when sent).
-- $1 region, $2 event ids (UUID[]), $3 last errors (TEXT[], the same length as $2, NULL entries when sent).
-- Returns nothing.
UPDATE outbox o SET sent_at = now(), last_error = d.last_error
FROM unnest($2::UUID[], $3::TEXT[]) AS d (id, last_error)
WHERE o.region = $1 AND o.id = d.id AND o.sent_at IS NULL
