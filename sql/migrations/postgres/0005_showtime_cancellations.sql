-- 0005: canceling a showtime cancels its bookings (issue #17, section 1).
--
-- A showtime can have thousands of bookings, each paid one refunded through the payment provider, which no
-- transaction may wait on (DESIGN.md §6). So the cancellation is a piece of work of its own, done in batches: this
-- row is written in the transaction that marks the showtime canceled, every batch adds what it canceled and refunded
-- to its counters in the batch's own transaction (so the counts are exact however often a batch is retried or a run
-- is interrupted), and finished_at is set once no booking of the showtime is live. Until then the worker resumes it
-- (booking::service::showtime_cancel): a crash between a refund and its batch's commit is finished by the next run,
-- with the same refund idempotency key.
CREATE TABLE showtime_cancellations (
    region       TEXT NOT NULL,
    showtime_id  UUID NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),   -- last progress: the worker resumes a cancellation idle a while
    finished_at  TIMESTAMPTZ,                         -- NULL while a booking of the showtime may still be live
    canceled     BIGINT NOT NULL DEFAULT 0,            -- bookings canceled by it (holds and paid bookings)
    refunded     BIGINT NOT NULL DEFAULT 0,            -- of which paid, and refunded
    CONSTRAINT showtime_cancellations_pkey PRIMARY KEY (region, showtime_id),
    CONSTRAINT showtime_cancellations_showtime_fkey FOREIGN KEY (region, showtime_id) REFERENCES showtimes (region, id)
);
-- The worker's scan: unfinished cancellations by last progress (few rows: finished ones leave the index).
CREATE INDEX showtime_cancellations_unfinished_idx ON showtime_cancellations (updated_at) WHERE finished_at IS NULL;

-- Showtimes canceled before this migration kept their bookings: they are canceled (and refunded) now.
INSERT INTO showtime_cancellations (region, showtime_id)
SELECT region, id FROM showtimes WHERE status = 'canceled'
ON CONFLICT (region, showtime_id) DO NOTHING;
