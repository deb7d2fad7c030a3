-- One page of the theaters with upcoming scheduled showtimes of movie $1, by (name, id), after the keyset ($6 name,
-- $7 id), at most $8 rows; optionally only in cities $2 or only theater $3, and only showtimes in the local-date
-- window [$4, $5) (TIMESTAMP, local to each theater's time zone; NULL: unbounded).
-- Plan: a semi-join of theaters (theaters_city_idx or theaters_id_idx when filtered) with the movie's showtimes
-- (showtimes_movie_time_idx: movie_id = $1 AND start_time > now()).
-- Rows: a theater with its city (catalog::store::theater_from_row), distance_km NULL.
SELECT t.region, t.id, t.name, t.address, t.zip, t.lat, t.lon, t.number_of_screens,
       c.id AS city_id, c.name AS city, c.state, c.country, c.time_zone,
       NULL::FLOAT8 AS distance_km
FROM theaters t
JOIN cities c ON c.id = t.city_id
WHERE ($2::UUID[] IS NULL OR t.city_id = ANY($2::UUID[]))
  AND ($3::UUID IS NULL OR t.id = $3::UUID)
  AND EXISTS (
        SELECT 1
        FROM showtimes s
        WHERE s.movie_id = $1
          AND s.region = t.region AND s.theater_id = t.id
          AND s.status = 'scheduled'
          AND s.start_time > now()
          AND ($4::TIMESTAMP IS NULL OR s.start_time >= ($4::TIMESTAMP AT TIME ZONE c.time_zone))
          AND ($5::TIMESTAMP IS NULL OR s.start_time < ($5::TIMESTAMP AT TIME ZONE c.time_zone))
      )
  AND ($6::TEXT IS NULL OR (t.name, t.id) > ($6::TEXT, $7::UUID))
ORDER BY t.name, t.id
LIMIT $8
