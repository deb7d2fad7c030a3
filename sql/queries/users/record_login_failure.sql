-- Counts a refused login against the account of an email, in one atomic statement (concurrent failures all count),
-- and locks the account once the count reaches the threshold: $3 seconds at the threshold, doubled by every further
-- failure, at most $4 seconds. The statement runs for every refused login, whatever the reason, so that refusals
-- cost the same round trips: an unknown email matches no row, and a locked account is left as it is (attempts made
-- during a lock are refused unseen, so a lock ends when it said it would and then grows with the next failure).
-- $1 email (normalised), $2 threshold, $3 first lock in seconds, $4 longest lock in seconds. Returns nothing.
UPDATE users
SET failed_logins = failed_logins + 1,
    locked_until = CASE
        WHEN failed_logins + 1 >= $2::INT4
        THEN now() + LEAST(
                 $3::FLOAT8 * power(2::FLOAT8, LEAST(failed_logins + 1 - $2::INT4, 30)::FLOAT8),
                 $4::FLOAT8
             ) * INTERVAL '1 second'
        ELSE NULL
    END
WHERE email = $1
  AND (locked_until IS NULL OR locked_until <= now())
