-- Refresh tokens, stored as SHA-256. Every rotation adds a row to the token's family; presenting
-- a token that was already rotated (or revoked) revokes the whole family (reuse detection).
CREATE TABLE refresh_tokens (
    token_hash         bytea       PRIMARY KEY,
    family_id          uuid        NOT NULL,
    client_id          text        NOT NULL,
    account_id         uuid        NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    scopes             text[]      NOT NULL,
    auth_time          timestamptz NOT NULL,
    amr                text[]      NOT NULL,
    acr                text,
    sid                text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    expires_at         timestamptz NOT NULL,
    family_expires_at  timestamptz NOT NULL,
    rotated_at         timestamptz,
    revoked_at         timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

-- The refresh-token family a code produced, so that a second redemption of the code revokes
-- what the first one issued.
ALTER TABLE authorization_codes ADD COLUMN token_family uuid;
