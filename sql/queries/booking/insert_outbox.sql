-- Appends an event to the outbox in the transaction of the change it announces (booking.paid, booking.canceled);
-- the worker's dispatcher delivers it at least once.
-- $1 region, $2 topic, $3 payload (JSONB). Returns nothing.
INSERT INTO outbox (region, topic, payload) VALUES ($1, $2, $3)
