-- A disabled account keeps its rows (so it can be enabled again) but cannot sign in by any
-- authenticator; disabling it ends its sessions and refresh tokens at once.
ALTER TABLE accounts ADD COLUMN disabled_at timestamptz;
