-- 0006: the twin of sql/migrations/postgres/0006_tickets.sql (the reasons are given there): one ticket per seat of a
-- paid booking, admitted once at the door; and the staff role. One idempotent statement at a time, like 0001.

CREATE TABLE IF NOT EXISTS tickets (
    region        crdb_internal_region NOT NULL,
    booking_id    UUID NOT NULL,
    seat_label    TEXT NOT NULL,
    showtime_id   UUID NOT NULL,
    issued_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    admitted_at   TIMESTAMPTZ,
    admitted_by   UUID,
    admitted_door UUID,
    recorded_at   TIMESTAMPTZ,
    CONSTRAINT tickets_pkey PRIMARY KEY (region, booking_id, seat_label),
    CONSTRAINT tickets_booking_fkey FOREIGN KEY (region, booking_id) REFERENCES bookings (region, id)
        ON DELETE CASCADE,
    CONSTRAINT tickets_showtime_fkey FOREIGN KEY (region, showtime_id) REFERENCES showtimes (region, id),
    CONSTRAINT tickets_admitted_by_fkey FOREIGN KEY (admitted_by) REFERENCES users (id)
) LOCALITY REGIONAL BY ROW AS region;
CREATE INDEX IF NOT EXISTS tickets_showtime_idx ON tickets (region, showtime_id);

INSERT INTO tickets (region, booking_id, seat_label, showtime_id)
SELECT b.region, b.id, seat.value ->> 'label', b.showtime_id
FROM bookings AS b, jsonb_array_elements(b.seats) AS seat
WHERE b.status = 'paid'
ON CONFLICT (region, booking_id, seat_label) DO NOTHING;

ALTER TABLE users DROP CONSTRAINT IF EXISTS users_role_check,
    ADD CONSTRAINT users_role_check CHECK (role IN ('customer', 'admin', 'staff'));
