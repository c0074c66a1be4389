ALTER TABLE refresh_tokens DROP COLUMN subject;
ALTER TABLE authorization_codes DROP COLUMN subject;
