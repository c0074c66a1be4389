-- WebAuthn ceremonies in progress. The state webauthn-rs needs to finish a ceremony (the
-- challenge, the allowed credentials) is kept here rather than in the browser or one
-- instance's memory: any instance can finish what another began, and taking a ceremony
-- deletes it, so a challenge is answered at most once.
CREATE TABLE passkey_ceremonies (
    ceremony_id  uuid        PRIMARY KEY,
    kind         text        NOT NULL CHECK (kind IN ('registration', 'authentication')),
    -- Whose passkey is registered, or whose passkeys may answer; NULL for a discoverable
    -- sign-in, where the passkey itself says whose it is.
    account_id   uuid        REFERENCES accounts (account_id) ON DELETE CASCADE,
    -- The sign-in flow the ceremony belongs to: only that flow may finish it.
    flow_id      uuid,
    state        jsonb       NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX passkey_ceremonies_expires_idx ON passkey_ceremonies (expires_at);
