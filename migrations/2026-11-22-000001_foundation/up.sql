-- Foundation schema: accounts and their devices (as the seeds describe), signing keys and
-- configuration versions. Case-insensitive uniqueness uses expression indexes on lower(...)
-- rather than the citext extension, so no superuser-only extension is needed.

CREATE TABLE accounts (
    account_id  uuid        PRIMARY KEY,
    username    text        NOT NULL CHECK (length(username) BETWEEN 1 AND 256),
    email       text        CHECK (email IS NULL OR length(email) BETWEEN 3 AND 320),
    phone       text,
    attributes  jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX accounts_username_lower_key ON accounts (lower(username));
CREATE UNIQUE INDEX accounts_email_lower_key ON accounts (lower(email)) WHERE email IS NOT NULL;

-- One row per authenticator device (a passkey today). `credential` holds the serialized
-- credential (public key, counter, flags) as the authenticator library writes it.
CREATE TABLE devices (
    device_id        uuid        PRIMARY KEY,
    account_id       uuid        NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    device_type      text        NOT NULL,
    credential_id    bytea       NOT NULL UNIQUE,
    credential       jsonb       NOT NULL,
    name             text        NOT NULL,
    aaguid           uuid,
    sign_count       bigint      NOT NULL DEFAULT 0,
    backup_eligible  boolean     NOT NULL DEFAULT false,
    backup_state     boolean     NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_used_at     timestamptz
);
CREATE INDEX devices_account_id_idx ON devices (account_id);

-- Token signing keys, shared by every instance on the database. The private key is a PKCS#8
-- DER document sealed with AES-256-GCM under the key-encryption key (nonce || ciphertext || tag),
-- with the kid as associated data so a ciphertext cannot be moved to another row.
CREATE TABLE signing_keys (
    kid                     text        PRIMARY KEY,
    alg                     text        NOT NULL CHECK (alg IN ('ES256', 'RS256')),
    public_jwk              jsonb       NOT NULL,
    private_key_ciphertext  bytea       NOT NULL,
    created_at              timestamptz NOT NULL DEFAULT now(),
    -- The key signs from this instant (published in the JWKS before it).
    activates_at            timestamptz NOT NULL,
    -- Set when a successor is scheduled: the key stops signing at this instant ...
    retires_at              timestamptz,
    -- ... and leaves the JWKS once every token it signed has expired.
    expires_at              timestamptz
);
CREATE INDEX signing_keys_alg_activates_idx ON signing_keys (alg, activates_at);

-- Every committed configuration, newest last. Version numbers are dense and start at 1.
CREATE TABLE config_versions (
    version       integer     PRIMARY KEY CHECK (version > 0),
    xml           text        NOT NULL,
    author        text        NOT NULL,
    comment       text        NOT NULL DEFAULT '',
    diff          text        NOT NULL DEFAULT '',
    committed_at  timestamptz NOT NULL DEFAULT now()
);
