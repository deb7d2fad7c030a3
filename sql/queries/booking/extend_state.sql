-- What an extension of a hold decides on (POST /bookings/{id}/extend; booking::model::extend_until): the booking's
-- owner, status, hold and extensions so far, its showtime's status and start, and now(). Read inside the extension's
-- SERIALIZABLE transaction, so two extensions of one hold cannot both see the count below the limit.
-- $1 region, $2 booking id. Returns 0 or 1 row: user_id, status, hold_expires_at, hold_extensions (INT4),
-- showtime_status, start_time, now.
SELECT b.user_id, b.status, b.hold_expires_at, b.hold_extensions, s.status AS showtime_status, s.start_time,
       now() AS now
FROM bookings b
JOIN showtimes s ON s.region = b.region AND s.id = b.showtime_id
WHERE b.region = $1 AND b.id = $2
