DROP TABLE authorization_codes;
DROP TABLE sso_sessions;
DROP TABLE auth_flows;
