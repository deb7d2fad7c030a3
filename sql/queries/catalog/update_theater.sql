-- Updates theater $2 (region $1): name $3, address $4, zip $5, position ($6, $7), $8 screens.
-- Rows: none (the count says whether it exists).
UPDATE theaters
SET name = $3, address = $4, zip = $5, lat = $6, lon = $7, number_of_screens = $8
WHERE region = $1 AND id = $2
