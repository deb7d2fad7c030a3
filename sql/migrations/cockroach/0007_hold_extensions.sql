-- 0007: the twin of sql/migrations/postgres/0007_hold_extensions.sql (the reasons are given there): the number of
-- times a hold was extended. Each statement idempotent: CockroachDB runs them outside a transaction.
ALTER TABLE bookings ADD COLUMN IF NOT EXISTS hold_extensions INT4 NOT NULL DEFAULT 0
    CONSTRAINT bookings_hold_extensions_check CHECK (hold_extensions >= 0);
