-- The account behind a login. $1 email (normalised). Returns 0 or 1 row, with the hash. No lock state: failed logins
-- are throttled per account and address in Redis (gateway::login), never by locking the account (issue #17: a lock
-- anyone could set kept the owner out). The columns failed_logins and locked_until are no longer used; a later
-- migration drops them once no running version reads them.
SELECT id, name, email, phone_number, role, created_at, password_hash
FROM users
WHERE email = $1
