DROP TABLE config_versions;
DROP TABLE signing_keys;
DROP TABLE devices;
DROP TABLE accounts;
