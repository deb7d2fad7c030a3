-- A new theater in region $1 (its city's), city $2: name $3, address $4, zip $5, position ($6, $7), $8 screens.
-- Rows: id.
INSERT INTO theaters (region, id, city_id, name, address, zip, lat, lon, number_of_screens)
VALUES ($1, gen_random_uuid(), $2, $3, $4, $5, $6, $7, $8)
RETURNING id
