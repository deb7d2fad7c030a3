-- The account behind a login. $1 email (normalised). Returns 0 or 1 row, with the hash and throttling state.
SELECT id, name, email, phone_number, role, created_at, password_hash, failed_logins, locked_until
FROM users
WHERE email = $1
