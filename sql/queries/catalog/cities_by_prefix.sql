-- City suggestions: the cities whose search_name (lower-case, accent-free) starts with the LIKE pattern $1 (the
-- typed text folded by catalog::model::search_key, metacharacters escaped, then '%'), at most $2 rows, by name.
-- Reference data of a few thousand rows at most, read on every keystroke of a search box; the
-- cities_search_name_state_country_key index leads with search_name.
-- Rows: id, name, state, country.
SELECT id, name, state, country
FROM cities
WHERE search_name LIKE $1
ORDER BY search_name, state, country, id
LIMIT $2
