-- The sweeper's candidates (DESIGN.md §6 "Expiry"; src/booking/sweep.rs): up to $1 reserved bookings past their
-- hold, oldest lapse first. A plain read outside any SERIALIZABLE transaction: it is only a hint, every candidate is
-- checked again by its key when it is expired (expire.sql). Until issue 23's drain it was the first part of the
-- expiring statement itself, inside its SERIALIZABLE transaction: that range read over bookings_status_expiry_idx
-- (and its 2,000 rows' predicate locks, promoted to whole-relation locks past max_pred_locks_per_transaction)
-- conflicted with every concurrent hold, whose booking insert lands in that index, and the sweep was cancelled as
-- the pivot of a read/write cycle again and again (639 holds expired/s under 1,000+ holds/s).
-- $1 most candidates (INT8). Returns region, id per candidate.
SELECT region, id
FROM bookings
WHERE status = 'reserved' AND hold_expires_at < now()
ORDER BY hold_expires_at
LIMIT $1
