DROP TABLE passkey_ceremonies;
