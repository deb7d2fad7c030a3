-- The screens of theater $2 (region $1) and whether any showtime (even canceled) uses each: such a screen's layout
-- is frozen (bitmaps of availability are laid over it) and the screen cannot be removed.
-- Rows: screen_number, name, in_use.
SELECT sc.screen_number, sc.name,
       EXISTS (SELECT 1 FROM showtimes s
               WHERE s.region = sc.region AND s.theater_id = sc.theater_id
                 AND s.screen_number = sc.screen_number) AS in_use
FROM screens sc
WHERE sc.region = $1 AND sc.theater_id = $2
ORDER BY sc.screen_number
