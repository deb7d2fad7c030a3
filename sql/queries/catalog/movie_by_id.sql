-- The movie $1. Index: movies_pkey.
-- Rows: a movie (catalog::store::movie_from_row); zero or one.
SELECT m.id, m.title, m.duration_min, m.genre, m.rating, m.description, m.release_date
FROM movies m
WHERE m.id = $1
