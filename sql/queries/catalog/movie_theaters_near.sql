-- One page of the theaters within $9 km of ($1 lat, $2 lon) with upcoming scheduled showtimes of movie $13, nearest
-- first, by (distance_km, id), after the keyset ($10 km, $11 id), at most $12 rows, only showtimes in the local-date
-- window [$14, $15) (TIMESTAMP, local to each theater's time zone; NULL: unbounded).
-- $3..$8: the bounding box, as in theaters_near.sql, whose plan this shares (theaters_lat_lon_idx range on the
-- latitude band), plus a semi-join with the movie's showtimes (showtimes_movie_time_idx).
-- Rows: a theater with its city (catalog::store::theater_from_row) and distance_km.
SELECT *
FROM (
    SELECT t.region, t.id, t.name, t.address, t.zip, t.lat, t.lon, t.number_of_screens,
           c.id AS city_id, c.name AS city, c.state, c.country, c.time_zone,
           2 * 6371.0088 * asin(least(1.0, sqrt(
               power(sin(radians(t.lat - $1::FLOAT8) / 2), 2)
               + cos(radians($1::FLOAT8)) * cos(radians(t.lat)) * power(sin(radians(t.lon - $2::FLOAT8) / 2), 2)
           ))) AS distance_km
    FROM theaters t
    JOIN cities c ON c.id = t.city_id
    WHERE t.lat BETWEEN $3::FLOAT8 AND $4::FLOAT8
      AND (t.lon BETWEEN $5::FLOAT8 AND $6::FLOAT8 OR t.lon BETWEEN $7::FLOAT8 AND $8::FLOAT8)
      AND EXISTS (
            SELECT 1
            FROM showtimes s
            WHERE s.movie_id = $13
              AND s.region = t.region AND s.theater_id = t.id
              AND s.status = 'scheduled'
              AND s.start_time > now()
              AND ($14::TIMESTAMP IS NULL OR s.start_time >= ($14::TIMESTAMP AT TIME ZONE c.time_zone))
              AND ($15::TIMESTAMP IS NULL OR s.start_time < ($15::TIMESTAMP AT TIME ZONE c.time_zone))
          )
) near
WHERE near.distance_km <= $9::FLOAT8
  AND ($10::FLOAT8 IS NULL OR (near.distance_km, near.id) > ($10::FLOAT8, $11::UUID))
ORDER BY near.distance_km, near.id
LIMIT $12
