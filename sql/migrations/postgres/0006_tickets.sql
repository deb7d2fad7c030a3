-- 0006: tickets and door check-in (issue #21).
--
-- A paid booking gets one ticket per seat, written in the transaction that makes it paid. The ticket's token is not
-- stored: it is the Ed25519 signature of (showtime, booking, seat), deterministic, so it is computed when shown
-- (src/tickets/token.rs). The row is what the door needs: whether, when, by which scanner and at which theater the
-- ticket was admitted. Admitting is a conditional UPDATE (admitted_at IS NULL) in a SERIALIZABLE transaction: of
-- two scanners reading the same ticket at once, one admits and the other is told who did.
-- Regional like the booking it belongs to: the key leads with region, and a canceled booking's row stays (its
-- booking's status is what refuses it at the door).
CREATE TABLE tickets (
    region        TEXT NOT NULL,
    booking_id    UUID NOT NULL,
    seat_label    TEXT NOT NULL,
    showtime_id   UUID NOT NULL,
    issued_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    admitted_at   TIMESTAMPTZ,   -- the admitting scan's time (an offline scanner's own clock); NULL until admitted
    admitted_by   UUID,          -- the staff account of the scanner that admitted it
    admitted_door UUID,          -- the theater the scanner said it stands at (NULL: it did not say)
    recorded_at   TIMESTAMPTZ,   -- when the server recorded the admission (later than admitted_at for offline scans)
    CONSTRAINT tickets_pkey PRIMARY KEY (region, booking_id, seat_label),
    CONSTRAINT tickets_booking_fkey FOREIGN KEY (region, booking_id) REFERENCES bookings (region, id)
        ON DELETE CASCADE,
    CONSTRAINT tickets_showtime_fkey FOREIGN KEY (region, showtime_id) REFERENCES showtimes (region, id),
    CONSTRAINT tickets_admitted_by_fkey FOREIGN KEY (admitted_by) REFERENCES users (id)
) PARTITION BY LIST (region);
-- A showtime's ticket list, for offline scanners (GET /showtimes/{id}/tickets).
CREATE INDEX tickets_showtime_idx ON tickets (region, showtime_id);
CREATE TABLE tickets_us_east PARTITION OF tickets FOR VALUES IN ('us-east');
CREATE TABLE tickets_us_central PARTITION OF tickets FOR VALUES IN ('us-central');
CREATE TABLE tickets_us_west PARTITION OF tickets FOR VALUES IN ('us-west');
CREATE TABLE tickets_default PARTITION OF tickets DEFAULT;

-- Bookings paid before this migration get their tickets now.
INSERT INTO tickets (region, booking_id, seat_label, showtime_id)
SELECT b.region, b.id, seat.value ->> 'label', b.showtime_id
FROM bookings AS b, jsonb_array_elements(b.seats) AS seat
WHERE b.status = 'paid'
ON CONFLICT (region, booking_id, seat_label) DO NOTHING;

-- Door scanners: a third role. Granted like admin, from the command line (`boxoffice user create --staff`).
ALTER TABLE users DROP CONSTRAINT IF EXISTS users_role_check,
    ADD CONSTRAINT users_role_check CHECK (role IN ('customer', 'admin', 'staff'));
