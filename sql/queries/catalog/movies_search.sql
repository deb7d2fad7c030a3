-- One page of movies by (title, id), after the keyset ($4 title, $5 id), at most $6 rows, filtered by: $1 a LIKE
-- pattern over search_title (catalog::model::params::contains_pattern), $2 a lower-case genre, $3 cities in which
-- the movie has upcoming scheduled showtimes (each NULL: no filter).
-- Plan: movies is reference data (tens to a few thousand rows), scanned in title order; the city filter is a
-- semi-join driven by theaters_city_idx then the theaters' programmes (showtimes_screen_time_idx prefixes).
-- Rows: a movie (catalog::store::movie_from_row).
SELECT m.id, m.title, m.duration_min, m.genre, m.rating, m.description, m.release_date
FROM movies m
WHERE ($1::TEXT IS NULL OR m.search_title LIKE $1::TEXT)
  AND ($2::TEXT IS NULL OR lower(m.genre) = $2::TEXT)
  AND ($3::UUID[] IS NULL OR m.id IN (
        SELECT s.movie_id
        FROM theaters t
        JOIN showtimes s ON s.region = t.region AND s.theater_id = t.id
        WHERE t.city_id = ANY($3::UUID[])
          AND s.status = 'scheduled'
          AND s.start_time > now()
      ))
  AND ($4::TEXT IS NULL OR (m.title, m.id) > ($4::TEXT, $5::UUID))
ORDER BY m.title, m.id
LIMIT $6
