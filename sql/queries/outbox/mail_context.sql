-- What a booking mail says besides the event's payload: the recipient, the movie, where and when (the start in the
-- theater's local time). Primary-key lookups only.
-- $1 region, $2 showtime id, $3 user id. Returns at most one row: email, name, title, theater, address,
-- screen_number, local_start (TIMESTAMP, the theater's zone), time_zone, start_time, end_time (TIMESTAMPTZ: the
-- calendar entry's), city, zip.
SELECT u.email, u.name, m.title, t.name AS theater, t.address, s.screen_number,
       s.start_time AT TIME ZONE c.time_zone AS local_start, c.time_zone, s.start_time, s.end_time, c.name AS city,
       t.zip
FROM showtimes s
JOIN theaters t ON t.region = s.region AND t.id = s.theater_id
JOIN cities c ON c.id = t.city_id
JOIN movies m ON m.id = s.movie_id
JOIN users u ON u.id = $3
WHERE s.region = $1 AND s.id = $2
