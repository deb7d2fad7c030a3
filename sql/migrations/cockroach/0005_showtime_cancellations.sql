-- 0005: the twin of sql/migrations/postgres/0005_showtime_cancellations.sql (the reasons are given there):
-- canceling a showtime cancels its bookings, in batches recorded here. One idempotent statement at a time, like 0001.

CREATE TABLE IF NOT EXISTS showtime_cancellations (
    region       crdb_internal_region NOT NULL,
    showtime_id  UUID NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at  TIMESTAMPTZ,
    canceled     INT8 NOT NULL DEFAULT 0,
    refunded     INT8 NOT NULL DEFAULT 0,
    CONSTRAINT showtime_cancellations_pkey PRIMARY KEY (region, showtime_id),
    CONSTRAINT showtime_cancellations_showtime_fkey FOREIGN KEY (region, showtime_id) REFERENCES showtimes (region, id)
) LOCALITY REGIONAL BY ROW AS region;
CREATE INDEX IF NOT EXISTS showtime_cancellations_unfinished_idx ON showtime_cancellations (updated_at)
    WHERE finished_at IS NULL;

INSERT INTO showtime_cancellations (region, showtime_id)
SELECT region, id FROM showtimes WHERE status = 'canceled'
ON CONFLICT (region, showtime_id) DO NOTHING;
