-- A sign-in in progress: who asked (return_to + an opaque payload only the caller reads), under
-- which policy, bound to the browser that started it; and, once authenticated, the result.
CREATE TABLE auth_flows (
    flow_id          uuid        PRIMARY KEY,
    browser_hash     bytea       NOT NULL,
    policy           jsonb       NOT NULL,
    return_to        text        NOT NULL,
    payload          jsonb       NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    account_id       uuid        REFERENCES accounts (account_id) ON DELETE CASCADE,
    amr              text[],
    acr              text,
    auth_time        timestamptz,
    sid              text,
    consumed_at      timestamptz
);
CREATE INDEX auth_flows_expires_idx ON auth_flows (expires_at);

-- Single sign-on sessions; the cookie holds a random secret, the table only its SHA-256.
CREATE TABLE sso_sessions (
    session_hash  bytea       PRIMARY KEY,
    sid           text        NOT NULL UNIQUE,
    account_id    uuid        NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    amr           text[]      NOT NULL,
    acr           text,
    auth_time     timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    ended_at      timestamptz
);
CREATE INDEX sso_sessions_account_idx ON sso_sessions (account_id);

-- Authorization codes, stored as SHA-256 of the code; single use (consumed_at).
CREATE TABLE authorization_codes (
    code_hash       bytea       PRIMARY KEY,
    client_id       text        NOT NULL,
    redirect_uri    text        NOT NULL,
    code_challenge  text,
    nonce           text,
    scopes          text[]      NOT NULL,
    account_id      uuid        NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    auth_time       timestamptz NOT NULL,
    amr             text[]      NOT NULL,
    acr             text,
    sid             text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    consumed_at     timestamptz
);
CREATE INDEX authorization_codes_expires_idx ON authorization_codes (expires_at);
