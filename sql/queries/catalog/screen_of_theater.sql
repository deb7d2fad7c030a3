-- The region of theater $1 if it has screen $2 (a showtime is written in its theater's region, which came from the
-- theater's city).
-- Rows: region; zero or one.
SELECT sc.region
FROM theaters t
JOIN screens sc ON sc.region = t.region AND sc.theater_id = t.id
WHERE t.id = $1 AND sc.screen_number = $2
