-- Forgets the failed-login count and any lock of an account after a successful login. $1 user id. Returns nothing.
UPDATE users
SET failed_logins = 0, locked_until = NULL
WHERE id = $1 AND failed_logins > 0
