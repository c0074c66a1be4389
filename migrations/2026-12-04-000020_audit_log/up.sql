-- Who changed which account or group, what, and when: SCIM, the CLI and the admin pages write
-- here in the transaction of the change itself. Kept after the account is deleted, so there is
-- no foreign key.
CREATE TABLE audit_log (
    entry_id   bigserial PRIMARY KEY,
    at         timestamptz NOT NULL,
    actor      text NOT NULL,
    action     text NOT NULL,
    account_id uuid,
    subject    text NOT NULL,
    detail     text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_account ON audit_log (account_id, entry_id);
