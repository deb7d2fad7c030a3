-- 0004: search names ignore punctuation, as catalog::model::search_key now does.
--
-- A city search folded case and accents but not punctuation: `st louis` found nothing while `St. Louis` found the
-- city. search_key now drops apostrophes and reads other punctuation (ASCII's, typographic quotes and dashes) as a
-- space; the stored forms are folded the same way here. [[:punct:]] is ASCII punctuation on both dialects' regex
-- engines (PostgreSQL's in the C locale, RE2 always), the rest is listed. Folding twice changes nothing.
UPDATE cities
SET search_name = btrim(regexp_replace(
    regexp_replace(regexp_replace(search_name, '[''‘’]', '', 'g'), '[[:punct:]“”–—·]', ' ', 'g'), ' +', ' ', 'g'));

UPDATE movies
SET search_title = btrim(regexp_replace(
    regexp_replace(regexp_replace(search_title, '[''‘’]', '', 'g'), '[[:punct:]“”–—·]', ' ', 'g'), ' +', ' ', 'g'));
