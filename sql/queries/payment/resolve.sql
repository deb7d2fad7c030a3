-- Moves a payment attempt from one of the expected statuses to its outcome. Matching no row means someone else
-- (the finalize request or the reconciler) resolved it first: the caller stops.
-- $1 region, $2 booking id, $3 attempt (INT4), $4 new status, $5 provider reference (NULL: unchanged),
-- $6 expected statuses (TEXT[]). Returns 0 or 1 row: amount, currency, provider_ref.
UPDATE payments
SET status = $4, provider_ref = COALESCE($5, provider_ref), updated_at = now()
WHERE region = $1 AND booking_id = $2 AND attempt = $3 AND status = ANY($6)
RETURNING amount, currency, provider_ref
