-- `jti`s of private_key_jwt client assertions (RFC 7523), kept until the assertion expires so
-- that a captured assertion cannot be replayed.
CREATE TABLE client_assertion_jtis (
    client_id   text        NOT NULL,
    jti         text        NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX client_assertion_jtis_expires_idx ON client_assertion_jtis (expires_at);
