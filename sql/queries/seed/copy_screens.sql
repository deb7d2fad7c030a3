-- Seed (scale): bulk load of the screens of new theaters (binary COPY).
-- Columns, in order: region text, theater_id uuid, screen_number int4, name text.
COPY screens (region, theater_id, screen_number, name) FROM STDIN WITH BINARY
