-- 0004: the twin of sql/migrations/postgres/0004_search_keys_fold_punctuation.sql (the reasons are given there):
-- search names ignore punctuation. Each UPDATE is idempotent (folding twice changes nothing).

UPDATE cities
SET search_name = btrim(regexp_replace(
    regexp_replace(regexp_replace(search_name, '[''‘’]', '', 'g'), '[[:punct:]“”–—·]', ' ', 'g'), ' +', ' ', 'g'));

UPDATE movies
SET search_title = btrim(regexp_replace(
    regexp_replace(regexp_replace(search_title, '[''‘’]', '', 'g'), '[[:punct:]“”–—·]', ' ', 'g'), ' +', ' ', 'g'));
