-- The running time of movie $1 (the default length of a showtime).
-- Rows: duration_min; zero or one.
SELECT duration_min FROM movies WHERE id = $1
