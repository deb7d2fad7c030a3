-- 0007: a hold may be extended a bounded number of times (issue #20, part 3: POST /bookings/{id}/extend).
--
-- The count lives on the booking and is raised in the statement that extends the hold (booking/extend_hold.sql),
-- under the limit the service is configured with (BOXOFFICE_HOLD_EXTENSIONS_MAX): the countdown cannot be reset
-- for ever, whatever the client retries, because the limit is checked against the stored count in the one
-- statement that writes it. A count rather than a deadline derived from created_at: a payment that is declined
-- puts the booking back to reserved with the payment window's expiry, so created_at + TTL no longer bounds it.
ALTER TABLE bookings ADD COLUMN hold_extensions INT NOT NULL DEFAULT 0
    CONSTRAINT bookings_hold_extensions_check CHECK (hold_extensions >= 0);
