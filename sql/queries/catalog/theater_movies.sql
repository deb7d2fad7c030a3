-- One page of the movies with upcoming scheduled showtimes at theater $2 (region $1), by (title, id), after the
-- keyset ($6 title, $7 id), at most $8 rows. Optional local-date window: showtimes starting from local time $3 to
-- local time $4 (TIMESTAMP, NULL: unbounded) in the theater's time zone $5.
-- Plan: the theater's programme through showtimes_screen_time_idx (region, theater_id prefix), hashed to distinct
-- movie ids, joined to movies_pkey; sorted (a theater shows a few dozen movies at most).
-- Rows: a movie (catalog::store::movie_from_row).
SELECT m.id, m.title, m.duration_min, m.genre, m.rating, m.description, m.release_date
FROM movies m
WHERE m.id IN (
        SELECT s.movie_id
        FROM showtimes s
        WHERE s.region = $1 AND s.theater_id = $2
          AND s.status = 'scheduled'
          AND s.start_time > now()
          AND ($3::TIMESTAMP IS NULL OR s.start_time >= ($3::TIMESTAMP AT TIME ZONE $5::TEXT))
          AND ($4::TIMESTAMP IS NULL OR s.start_time < ($4::TIMESTAMP AT TIME ZONE $5::TEXT))
      )
  AND ($6::TEXT IS NULL OR (m.title, m.id) > ($6::TEXT, $7::UUID))
ORDER BY m.title, m.id
LIMIT $8
