-- Seed: the ids of cities by search name, to attach theaters and ZIP codes to cities that existed before the seed
-- (possibly under another id than the seed's deterministic one).
-- Parameters: $1 search_name text[].
-- Returns: search_name, state, country, id of every city with one of those search names.
SELECT search_name, state, country, id
FROM cities
WHERE search_name = ANY($1::text[])
