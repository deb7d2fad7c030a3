-- The showtime $1 with what its page shows: theater, city, movie, screen, prices, and its local UTC offsets (see
-- theater_showtimes.sql). Index: showtimes_id_idx in each partition (the region is what this lookup finds out).
-- Rows: zero or one.
SELECT s.region, s.id, s.theater_id, s.screen_number, s.movie_id, s.start_time, s.end_time,
       EXTRACT(EPOCH FROM (s.start_time AT TIME ZONE c.time_zone) - (s.start_time AT TIME ZONE 'UTC'))::INT4 AS start_offset,
       EXTRACT(EPOCH FROM (s.end_time AT TIME ZONE c.time_zone) - (s.end_time AT TIME ZONE 'UTC'))::INT4 AS end_offset,
       s.price_standard, s.price_premium, s.price_accessible, s.price_companion, s.currency, s.status,
       t.name AS theater_name, c.name AS city, c.state, c.country, c.time_zone,
       m.title, m.duration_min, m.rating,
       sc.name AS screen_name
FROM showtimes s
JOIN theaters t ON t.region = s.region AND t.id = s.theater_id
JOIN cities c ON c.id = t.city_id
JOIN movies m ON m.id = s.movie_id
JOIN screens sc ON sc.region = s.region AND sc.theater_id = s.theater_id AND sc.screen_number = s.screen_number
WHERE s.id = $1
