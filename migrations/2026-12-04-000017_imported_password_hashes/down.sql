DELETE FROM password_credentials WHERE hash NOT LIKE '$argon2id$%';
ALTER TABLE password_credentials DROP CONSTRAINT password_credentials_hash_check;
ALTER TABLE password_credentials ADD CONSTRAINT password_credentials_hash_check
    CHECK (hash LIKE '$argon2id$%');
