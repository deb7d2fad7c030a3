-- The minimal-hold baseline of loadtest/run.sh: a minimal seat hold in one SERIALIZABLE transaction: insert the booking, claim its
-- two seats (a plain INSERT: the primary key is the guard), commit. No idempotency key, no per-user count, no
-- takeover of lapsed claims, no pipelining: the floor the service's hold is compared with.
-- Variables: -D clients=<clients> -D first=<first block> -D run=<unique per run> -D i=0 (per-client counter).
-- Client c holds the 70 seat pairs of block first + c (rows A-J, numbers 1-14), then of block first + c + clients,
-- ...; pair p is held by user 70c + p (its id is md5('load-user-<n>'), see examples/loadgen.rs). The block's
-- showtime is read once per 70 transactions, outside them; every parameter is a scalar, as the service's are.
\set p :i % 70
\set blk :first + :client_id + (:i / 70) * :clients
\set row 65 + :p / 7
\set s1 2 * (:p % 7) + 1
\set s2 :s1 + 1
\set u :client_id * 70 + :p
\if :p = 0
SELECT region, showtime_id FROM load_blocks WHERE n = :blk \gset
\endif
BEGIN ISOLATION LEVEL SERIALIZABLE;
INSERT INTO bookings (region, id, user_id, showtime_id, status, seats, seat_count, total_amount, currency, hold_expires_at)
VALUES (:region, md5(:run || '-' || :client_id || '-' || :i)::uuid, md5('load-user-' || :u)::uuid, :showtime_id,
        'reserved',
        '[{"label": "A1", "kind": "standard", "price": 1250}, {"label": "A2", "kind": "standard", "price": 1250}]',
        2, 2500, 'USD', now() + INTERVAL '10 minutes');
INSERT INTO booking_seats (region, showtime_id, seat_label, booking_id, hold_expires_at)
VALUES (:region, :showtime_id, chr(:row) || :s1, md5(:run || '-' || :client_id || '-' || :i)::uuid,
        now() + INTERVAL '10 minutes'),
       (:region, :showtime_id, chr(:row) || :s2, md5(:run || '-' || :client_id || '-' || :i)::uuid,
        now() + INTERVAL '10 minutes');
COMMIT;
\set i :i + 1
