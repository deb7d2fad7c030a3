-- The upcoming scheduled showtimes at theater $2 (region $1) of the movies $3, in the optional local window
-- [$4, $5) (TIMESTAMP, local to time zone $6), by start time.
-- start_offset / end_offset: the zone's UTC offset in seconds at each instant ((local wall time) - (UTC wall time),
-- which PostgreSQL and CockroachDB both evaluate), so times can be shown with the theater's local offset.
-- Rows: region, theater_id, id, movie_id, screen_number, start_time, end_time, start_offset, end_offset.
SELECT s.region, s.theater_id, s.id, s.movie_id, s.screen_number, s.start_time, s.end_time,
       EXTRACT(EPOCH FROM (s.start_time AT TIME ZONE $6::TEXT) - (s.start_time AT TIME ZONE 'UTC'))::INT4 AS start_offset,
       EXTRACT(EPOCH FROM (s.end_time AT TIME ZONE $6::TEXT) - (s.end_time AT TIME ZONE 'UTC'))::INT4 AS end_offset
FROM showtimes s
WHERE s.region = $1 AND s.theater_id = $2
  AND s.movie_id = ANY($3)
  AND s.status = 'scheduled'
  AND s.start_time > now()
  AND ($4::TIMESTAMP IS NULL OR s.start_time >= ($4::TIMESTAMP AT TIME ZONE $6::TEXT))
  AND ($5::TIMESTAMP IS NULL OR s.start_time < ($5::TIMESTAMP AT TIME ZONE $6::TEXT))
ORDER BY s.start_time, s.id
