-- A new movie: title $1, search title $2 (catalog::model::search_key), $3 minutes, genre $4, rating $5,
-- description $6, release date $7.
-- Rows: a movie (catalog::store::movie_from_row).
INSERT INTO movies (id, title, search_title, duration_min, genre, rating, description, release_date)
VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7)
RETURNING id, title, duration_min, genre, rating, description, release_date
