-- 0002: the twin of sql/migrations/postgres/0002_booking_write_path.sql (the reasons are given there), which
-- 0001 here never received: hold.sql writes booking_seats.taken_from, and the per-user cap index is led by user_id.
-- On CockroachDB the index order matters less (no page-granular predicate locks), but the same schema keeps the
-- shared DML and its plans the same. One idempotent statement at a time, like 0001.

ALTER TABLE booking_seats ADD COLUMN IF NOT EXISTS taken_from UUID;

DROP INDEX IF EXISTS bookings@bookings_showtime_user_idx;
CREATE INDEX IF NOT EXISTS bookings_user_showtime_idx ON bookings (user_id, region, showtime_id);
