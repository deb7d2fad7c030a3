-- Ensures an admin account (start-up configuration and `boxoffice user create --admin`): creates it, or promotes the
-- existing account of that email and sets its password. Single arbiter (users_email_key), portable to CockroachDB.
-- $1 name, $2 email (normalised), $3 phone_number, $4 password_hash. Returns the user (without the hash).
INSERT INTO users (name, email, phone_number, password_hash, role)
VALUES ($1, $2, $3, $4, 'admin')
ON CONFLICT (email) DO UPDATE SET role = 'admin', password_hash = excluded.password_hash
RETURNING id, name, email, phone_number, role, created_at
