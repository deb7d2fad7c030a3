-- Updates movie $1: title $2, search title $3, $4 minutes, genre $5, rating $6, description $7, release date $8.
-- Rows: a movie (catalog::store::movie_from_row); none if it does not exist.
UPDATE movies
SET title = $2, search_title = $3, duration_min = $4, genre = $5, rating = $6, description = $7, release_date = $8
WHERE id = $1
RETURNING id, title, duration_min, genre, rating, description, release_date
