-- 0002: the booking write path under SERIALIZABLE on PostgreSQL, as the storm test and the load run found it.
--
-- PostgreSQL's SERIALIZABLE tracks what a transaction read with predicate locks on B-tree leaf pages (and heap
-- pages once a transaction has read more than two rows of one), not on rows. Two transactions that read and write
-- the same page form a read-write dependency even when they touch different rows, and enough of those roll one
-- back. Both decisions below keep concurrent holds that do not compete for a seat off each other's pages.

-- A claim remembers the booking it was taken over from. When a hold takes over a lapsed claim (INSERT .. ON
-- CONFLICT .. DO UPDATE .. WHERE hold_expires_at < now()), the booking that lost it must become `expired` in the
-- same transaction, so the claim statement has to report whose claim it took. Reading the claims first would do it,
-- but that read's row locks are promoted to whole heap pages (a showtime's claims share a few), and every hold of the
-- showtime then conflicted with every other: ten times the serialization failures in the storm test. The DO UPDATE
-- writes the previous owner here and RETURNING reports it: no read, and the same statement on CockroachDB. NULL for
-- a fresh claim or a booking re-claiming its own seat.
ALTER TABLE booking_seats ADD COLUMN taken_from UUID;

-- The per-user cap counts the user's live seats on the showtime inside every hold. Led by (region, showtime_id),
-- that count read the leaf page every other hold of the showtime writes: concurrent holds by different users of one
-- showtime (a premiere, an on-sale) retried each other (17% of the load run's uncontended holds). Led by user_id, it
-- reads the user's own entries, pages away from other users'.
DROP INDEX bookings_showtime_user_idx;
CREATE INDEX bookings_user_showtime_idx ON bookings (user_id, region, showtime_id);
