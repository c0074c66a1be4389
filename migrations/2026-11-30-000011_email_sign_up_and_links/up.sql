-- Email challenges that prove more than an existing account's address.
--   sign_up:   a sign-up waiting for its address to be verified (username, names, address).
--              No account row exists until the code or link is redeemed and the first
--              credential is created with it, in one transaction.
--   link_hash: SHA-256 of the token in an emailed link (link mode). The link's page posts the
--              token; the code the link stands for is derived from it, so only hashes are kept.
ALTER TABLE email_challenges
    ADD COLUMN sign_up   jsonb,
    ADD COLUMN link_hash bytea;
CREATE UNIQUE INDEX email_challenges_link_idx ON email_challenges (link_hash)
    WHERE link_hash IS NOT NULL;
