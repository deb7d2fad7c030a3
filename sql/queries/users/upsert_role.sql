-- Ensures an admin or staff account (start-up configuration and `boxoffice user create --admin|--staff`): creates
-- it, or gives the existing account of that email the role and sets its password. Single arbiter
-- (users_email_key), portable to CockroachDB.
-- $1 name, $2 email (normalised), $3 phone_number, $4 password_hash, $5 role ('admin' or 'staff').
-- Returns the user (without the hash).
INSERT INTO users (name, email, phone_number, password_hash, role)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (email) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash
RETURNING id, name, email, phone_number, role, created_at
