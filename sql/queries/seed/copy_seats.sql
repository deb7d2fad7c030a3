-- Seed (scale): bulk load of the seats of new theaters (binary COPY).
-- Columns, in order: region text, theater_id uuid, screen_number int4, seat_label text, row_label text,
--   number int4, kind text, grid_x int4, grid_y int4.
COPY seats (region, theater_id, screen_number, seat_label, row_label, number, kind, grid_x, grid_y)
FROM STDIN WITH BINARY
