-- The screens of theater $2 (region $1) with their seat counts, by number. Index: screens_pkey, seats_pkey prefixes.
-- Rows: screen_number, name, seats.
SELECT sc.screen_number, sc.name,
       (SELECT count(*) FROM seats se
        WHERE se.region = sc.region AND se.theater_id = sc.theater_id AND se.screen_number = sc.screen_number) AS seats
FROM screens sc
WHERE sc.region = $1 AND sc.theater_id = $2
ORDER BY sc.screen_number
