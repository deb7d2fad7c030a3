-- The region of theater $1 (an admin write starts from the id alone). Index: theaters_id_idx.
-- Rows: region; zero or one.
SELECT region FROM theaters WHERE id = $1
