-- Run (b) of loadtest/holds.sh: a minimal seat hold in one SERIALIZABLE transaction: insert the booking, claim its
-- two seats (a plain INSERT: the primary key is the guard), commit. No idempotency key, no per-user count, no
-- takeover of lapsed claims, no pipelining: the floor the service's hold is compared with.
-- Variables: -D clients=<clients> -D first=<first block> -D run=<unique per run> -D i=0 (per-client counter).
-- Client c (users 96c to 96c + 95) holds the 96 seat pairs of block first + c, then of first + c + clients, ...; the
-- block's showtime and seats are read once per 96 transactions (outside them).
\set p :i % 96
\set blk :first + :client_id + (:i / 96) * :clients
\set a 2 * :p + 1
\set b 2 * :p + 2
\if :p = 0
SELECT region, showtime_id, seats::text AS seats,
       (SELECT array_agg(id ORDER BY n) FROM load_users WHERE n / 96 = :client_id)::text AS users
FROM load_blocks WHERE n = :blk \gset
\endif
BEGIN ISOLATION LEVEL SERIALIZABLE;
INSERT INTO bookings (region, id, user_id, showtime_id, status, seats, seat_count, total_amount, currency, hold_expires_at)
VALUES (:region, md5(:run || '-' || :client_id || '-' || :i)::uuid, (:users::uuid[])[:p + 1], :showtime_id, 'reserved',
        '[{"label": "A1", "kind": "standard", "price": 1250}, {"label": "A2", "kind": "standard", "price": 1250}]',
        2, 2500, 'USD', now() + INTERVAL '10 minutes');
INSERT INTO booking_seats (region, showtime_id, seat_label, booking_id, hold_expires_at)
VALUES (:region, :showtime_id, (:seats::text[])[:a], md5(:run || '-' || :client_id || '-' || :i)::uuid,
        now() + INTERVAL '10 minutes'),
       (:region, :showtime_id, (:seats::text[])[:b], md5(:run || '-' || :client_id || '-' || :i)::uuid,
        now() + INTERVAL '10 minutes');
COMMIT;
\set i :i + 1
