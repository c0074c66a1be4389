-- Password credentials, apart from the account so that passwordless accounts simply have none.
-- The hash is an argon2id PHC string (parameters and salt inside).
CREATE TABLE password_credentials (
    account_id  uuid        PRIMARY KEY REFERENCES accounts (account_id) ON DELETE CASCADE,
    hash        text        NOT NULL CHECK (hash LIKE '$argon2id$%'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
