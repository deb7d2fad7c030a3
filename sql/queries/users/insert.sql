-- Registers a user. The unique key users_email_key answers "email taken" (mapped to 409 by constraint name).
-- $1 name, $2 email (normalised), $3 phone_number, $4 password_hash (argon2id PHC), $5 role
-- Returns the new user (without the hash).
INSERT INTO users (name, email, phone_number, password_hash, role)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, name, email, phone_number, role, created_at
