-- A code and a refresh token carry the `sub` their tokens are issued with: the account's
-- legacy subject when it has one and the client sees public subjects, else Tessera's own.
-- (Rows from before this migration have none; their subject is derived as before.)
ALTER TABLE authorization_codes ADD COLUMN subject text;
ALTER TABLE refresh_tokens ADD COLUMN subject text;
