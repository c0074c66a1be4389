//! The server's integration tests: one binary, the whole application on a real database.

mod admin;
mod browser;
mod discovery;
mod helpers;
mod oidc;
mod operations;
mod processes;
mod tls;
mod token;
