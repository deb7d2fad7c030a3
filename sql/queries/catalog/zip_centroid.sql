-- The centroid of ZIP code $1 in country $2 (NULL: any country; two rows mean the code exists in several and the
-- caller asks for a country). Index: zip_codes_zip_idx.
-- Rows: country, zip, lat, lon (at most 2).
SELECT country, zip, lat, lon
FROM zip_codes
WHERE zip = $1
  AND ($2::TEXT IS NULL OR country = $2::TEXT)
ORDER BY country
LIMIT 2
