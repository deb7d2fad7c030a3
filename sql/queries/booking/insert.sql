-- Inserts a new hold (DESIGN.md §6 step 2): status reserved, prices locked from the showtime (I5). Ids and times come
-- from the service (the id identifies the booking if the COMMIT's outcome is unknown; the times are the
-- transaction's clock read by hold_context.sql, so the response stored with the idempotency key matches the row).
-- $1 region, $2 id, $3 user id, $4 showtime id, $5 seats (JSONB [{label, kind, price}]), $6 seat count (INT4),
-- $7 total (INT8), $8 currency, $9 hold_expires_at, $10 created_at (= updated_at). Returns nothing.
INSERT INTO bookings (region, id, user_id, showtime_id, status, seats, seat_count, total_amount, currency,
                      hold_expires_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, 'reserved', $5, $6, $7, $8, $9, $10, $10)
