-- The upcoming scheduled showtimes of movie $1 at theaters $2, in the local-date window [$3, $4) (TIMESTAMP, local
-- to each theater's time zone; NULL: unbounded), by theater then start time. Index: showtimes_movie_time_idx.
-- start_offset / end_offset: the theater zone's UTC offset in seconds at each instant (see theater_showtimes.sql).
-- Rows: region, theater_id, id, movie_id, screen_number, start_time, end_time, start_offset, end_offset.
SELECT s.region, s.theater_id, s.id, s.movie_id, s.screen_number, s.start_time, s.end_time,
       EXTRACT(EPOCH FROM (s.start_time AT TIME ZONE c.time_zone) - (s.start_time AT TIME ZONE 'UTC'))::INT4 AS start_offset,
       EXTRACT(EPOCH FROM (s.end_time AT TIME ZONE c.time_zone) - (s.end_time AT TIME ZONE 'UTC'))::INT4 AS end_offset
FROM showtimes s
JOIN theaters t ON t.region = s.region AND t.id = s.theater_id
JOIN cities c ON c.id = t.city_id
WHERE s.movie_id = $1
  AND s.theater_id = ANY($2)
  AND s.status = 'scheduled'
  AND s.start_time > now()
  AND ($3::TIMESTAMP IS NULL OR s.start_time >= ($3::TIMESTAMP AT TIME ZONE c.time_zone))
  AND ($4::TIMESTAMP IS NULL OR s.start_time < ($4::TIMESTAMP AT TIME ZONE c.time_zone))
ORDER BY s.theater_id, s.start_time, s.id
