-- Seed: the local calendar of time zones, so that showtimes are planned on local days and converted to instants
-- with the database's time-zone rules (the same ones `AT TIME ZONE` applies when the catalog filters by local
-- date).
-- Parameters: $1 zone text[] (IANA names), $2 days int4 (how many local days, from the zone's today).
-- Returns: one row per zone and day: zone text, day date (the zone's today + 0 .. days - 1), utc_offset_s int4
--   (the zone's UTC offset at local noon that day, seconds east of UTC; every show of a day starts between 11:00
--   and 23:00, after the 02:00 daylight-saving switch, so the noon offset is the offset of all of them).
SELECT z.tz AS zone,
       z.today + g.n AS day,
       (EXTRACT(EPOCH FROM (z.today + g.n) + TIME '12:00')
        - EXTRACT(EPOCH FROM ((z.today + g.n) + TIME '12:00') AT TIME ZONE z.tz))::INT4 AS utc_offset_s
FROM (SELECT u.tz, (now() AT TIME ZONE u.tz)::DATE AS today FROM unnest($1::text[]) AS u (tz)) AS z
CROSS JOIN generate_series(0, $2::INT4 - 1) AS g (n)
ORDER BY zone, day
