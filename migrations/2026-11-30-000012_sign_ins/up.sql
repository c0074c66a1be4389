-- Each completed sign-in, for the account page's "recent sign-ins": written by the same
-- statement that completes the flow, kept 90 days (housekeeping).
CREATE TABLE sign_ins (
    account_id    uuid        NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    signed_in_at  timestamptz NOT NULL,
    amr           text[]      NOT NULL,
    acr           text,
    -- The OAuth client the sign-in was for; NULL for the account page itself.
    client_id     text
);
CREATE INDEX sign_ins_account_idx ON sign_ins (account_id, signed_in_at DESC);
CREATE INDEX sign_ins_time_idx ON sign_ins (signed_in_at);
