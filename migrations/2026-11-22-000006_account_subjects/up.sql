-- Which account a subject identifier stands for. Subjects are one-way (HMAC of the account id),
-- so endpoints that receive a token (userinfo) look the account up here; rows are written when
-- a subject is first issued.
CREATE TABLE account_subjects (
    subject     text        PRIMARY KEY,
    account_id  uuid        NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_subjects_account_idx ON account_subjects (account_id);
