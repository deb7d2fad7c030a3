-- Seed (scale): which of these theaters exist already, so that a re-run copies only the missing ones.
-- Parameters: $1 id uuid[].
-- Returns: id of every existing theater among them.
SELECT id
FROM theaters
WHERE id = ANY($1::uuid[])
