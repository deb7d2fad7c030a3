-- A booking `b` whose seats count against the per-user cap: paid, being paid, or a hold that has not lapsed. Used by
-- hold.sql, hold_batch.sql and hold_refusal.sql as {{live_booking}} (the bookings row must be named b).
(b.status IN ('payment_pending', 'paid') OR (b.status = 'reserved' AND b.hold_expires_at > now()))
