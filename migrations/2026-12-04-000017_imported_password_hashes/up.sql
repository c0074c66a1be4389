-- Accounts imported from other systems keep their bcrypt or PBKDF2 hash until their first
-- successful sign-in replaces it with argon2id.
ALTER TABLE password_credentials DROP CONSTRAINT password_credentials_hash_check;
ALTER TABLE password_credentials ADD CONSTRAINT password_credentials_hash_check CHECK (
    hash LIKE '$argon2id$%' OR hash LIKE '$2a$%' OR hash LIKE '$2b$%' OR hash LIKE '$2y$%'
    OR hash LIKE '$pbkdf2-sha256$%' OR hash LIKE '$pbkdf2-sha512$%'
);
