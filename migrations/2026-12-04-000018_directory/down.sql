DROP TABLE group_members;
DROP TABLE account_groups;
DROP INDEX accounts_created;
DROP INDEX accounts_external_id;
DROP INDEX accounts_legacy_subject_key;
ALTER TABLE accounts DROP COLUMN legacy_subject, DROP COLUMN external_id;
