-- The seats of screen $3 of theater $2 (region $1), for the in-process layout cache (a layout is immutable once a
-- showtime uses it). Several screens are fetched as concurrent, pipelined executions of this statement on one
-- connection. Index: seats_pkey prefix (region, theater_id, screen_number).
-- Rows: seat_label, row_label, number, kind, grid_x, grid_y.
SELECT se.seat_label, se.row_label, se.number, se.kind, se.grid_x, se.grid_y
FROM seats se
WHERE se.region = $1 AND se.theater_id = $2 AND se.screen_number = $3
