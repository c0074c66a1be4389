ALTER TABLE authorization_codes DROP COLUMN token_family;
DROP TABLE refresh_tokens;
