-- Admin page sessions, so that signing out (or "sign out everywhere") ends them on the server:
-- a copied cookie stops working. The key is a MAC of the cookie's secret under a key bound to
-- the configured admin credentials, so changing them also ends every session.
CREATE TABLE admin_sessions (
    session_hash  bytea       PRIMARY KEY,
    username      text        NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL
);
CREATE INDEX admin_sessions_expiry_idx ON admin_sessions (expires_at);
