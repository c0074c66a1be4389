DROP INDEX email_challenges_link_idx;
ALTER TABLE email_challenges DROP COLUMN sign_up, DROP COLUMN link_hash;
