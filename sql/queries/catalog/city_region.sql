-- The region of city $1: a theater created in the city is written in that region.
-- Rows: region; zero or one.
SELECT region FROM cities WHERE id = $1
