-- A user by id. $1 id. Returns 0 or 1 row (without the hash).
SELECT id, name, email, phone_number, role, created_at
FROM users
WHERE id = $1
