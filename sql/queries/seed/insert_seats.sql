-- Seed: insert seats, skipping any that exists (same label, or same grid cell, on the screen).
-- Parameters: parallel arrays, one element per seat:
--   $1 region text[], $2 theater_id uuid[], $3 screen_number int4[], $4 seat_label text[], $5 row_label text[],
--   $6 number int4[], $7 kind text[], $8 grid_x int4[], $9 grid_y int4[].
-- Returns: no rows; the row count is the number of seats inserted.
INSERT INTO seats (region, theater_id, screen_number, seat_label, row_label, number, kind, grid_x, grid_y)
SELECT *
FROM unnest($1::text[], $2::uuid[], $3::int4[], $4::text[], $5::text[], $6::int4[], $7::text[], $8::int4[],
            $9::int4[])
ON CONFLICT DO NOTHING
