//! The server's integration tests: one binary, the whole application on a real database.
// Test and measuring code: a failure should stop it loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

mod account;
mod admin;
mod admin_accounts;
mod authorize;
mod browser;
mod confidential;
mod cors;
mod curity_import;
mod discovery;
mod fuzz;
mod helpers;
mod identifier_first;
mod lifecycle;
mod login_limits;
mod oidc;
mod operations;
mod passkey_browser;
mod passkey_http;
mod processes;
mod published_keys;
mod scim;
mod scim_browser;
mod scim_groups;
mod scope_claims;
mod signup_browser;
mod spa_browser;
mod tls;
mod token;
mod token_claims;
