-- The account behind a login. $1 email (normalised). Returns 0 or 1 row, with the hash and throttling state;
-- `locked` is evaluated on the database clock so that every pod agrees on when a lock ends.
SELECT id, name, email, phone_number, role, created_at, password_hash, failed_logins,
       (locked_until IS NOT NULL AND locked_until > now()) AS locked
FROM users
WHERE email = $1
