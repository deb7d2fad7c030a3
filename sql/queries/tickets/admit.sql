-- Admits a ticket: the one write of a check-in, conditional, so that a ticket is admitted once whatever the
-- concurrency. Online, the first scan recorded wins (admitted_at IS NULL). An offline upload ($7 true) settles by
-- scan time instead: an earlier scan takes the admission over from a later one (both people are in already; the
-- record keeps the first, and the later one is reported as the duplicate).
-- $1 region, $2 booking id, $3 seat label, $4 scan time (TIMESTAMPTZ), $5 scanner (staff user id), $6 door (theater
-- id or NULL), $7 offline (BOOL).
-- Returns 1 row (admitted_at) when this scan is now the ticket's admission, else none.
UPDATE tickets
SET admitted_at = $4, admitted_by = $5, admitted_door = $6, recorded_at = now()
WHERE region = $1 AND booking_id = $2 AND seat_label = $3
  AND (admitted_at IS NULL OR ($7 AND admitted_at > $4)) IS TRUE
RETURNING admitted_at
