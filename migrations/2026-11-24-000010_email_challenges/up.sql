-- Email one-time codes in progress, one per sign-in flow and purpose: sending a new code
-- replaces the old one. Only the code's hash is kept. `account_id` is NULL when the username
-- was unknown: the flow looks the same to the user, but no code can ever match.
CREATE TABLE email_challenges (
    flow_id       uuid        NOT NULL,
    purpose       text        NOT NULL,
    account_id    uuid        REFERENCES accounts (account_id) ON DELETE CASCADE,
    code_hash     bytea       NOT NULL,
    attempts      integer     NOT NULL DEFAULT 0,
    max_attempts  integer     NOT NULL,
    sends         integer     NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (flow_id, purpose)
);
CREATE INDEX email_challenges_expires_idx ON email_challenges (expires_at);
