-- What a provisioning system (SCIM) knows an account by, and the subject a relying party
-- already stores for it when it came from another identity system.
ALTER TABLE accounts
    ADD COLUMN external_id text,
    ADD COLUMN legacy_subject text;
CREATE UNIQUE INDEX accounts_legacy_subject_key ON accounts (legacy_subject);
CREATE INDEX accounts_external_id ON accounts (external_id);
-- SCIM lists page in creation order.
CREATE INDEX accounts_created ON accounts (created_at, account_id);

-- Groups of accounts (SCIM Groups; the `groups` claim).
CREATE TABLE account_groups (
    group_id     uuid PRIMARY KEY,
    display_name text NOT NULL,
    external_id  text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX account_groups_display_name_key ON account_groups (lower(display_name));

CREATE TABLE group_members (
    group_id   uuid NOT NULL REFERENCES account_groups (group_id) ON DELETE CASCADE,
    account_id uuid NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, account_id)
);
CREATE INDEX group_members_account ON group_members (account_id);
