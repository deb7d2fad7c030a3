-- Renames screen $3 of theater $2 (region $1) to $4.
-- Rows: none.
UPDATE screens SET name = $4 WHERE region = $1 AND theater_id = $2 AND screen_number = $3
