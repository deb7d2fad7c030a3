-- The seat layout of screen $3 of theater $2 (region $1): one seat per position of the arrays $4 labels, $5 row
-- labels, $6 numbers, $7 kinds, $8 grid x, $9 grid y (all of one length). seats_pkey and seats_grid_key back the
-- validation in catalog::model::seatmap::SeatLayout::new.
-- Rows: none.
INSERT INTO seats (region, theater_id, screen_number, seat_label, row_label, number, kind, grid_x, grid_y)
SELECT $1, $2, $3, s.label, s.row_label, s.number, s.kind, s.x, s.y
FROM unnest($4::TEXT[], $5::TEXT[], $6::INT4[], $7::TEXT[], $8::INT4[], $9::INT4[])
    AS s(label, row_label, number, kind, x, y)
