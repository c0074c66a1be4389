ALTER TABLE passkey_ceremonies SET LOGGED;
