//! PostgreSQL persistence for Tessera.
//!
//! This is the only crate that writes SQL. It knows tables, rows and statements; it does not
//! know HTTP, OAuth rules or how a sign-in works. The owning domain crates decide what a row
//! means and when to write it.
//!
//! All calls are blocking (diesel). From async code use [`Store::run`], which moves the work to
//! tokio's blocking pool so request workers never wait on the database.

pub mod accounts;
pub mod admin_sessions;
pub mod audit;
pub mod client_assertions;
pub mod codes;
pub mod config;
pub mod connection;
pub mod directory;
pub mod email;
mod error;
pub mod groups;
pub mod housekeeping;
pub mod migrations;
pub mod passkeys;
mod pool;
pub mod rate_limits;
pub mod refresh;
pub mod schema;
pub mod signin;
pub mod signing_keys;
pub mod statement;
pub mod tx;

/// The connection the store's functions take (callers compose them into one transaction with
/// [`tx::transaction`]; they write no SQL of their own).
pub use diesel::PgConnection;
pub use error::StoreError;
pub use pool::{PoolSettings, PoolStatus, Store};

/// A pooled PostgreSQL connection.
pub type PgConn = diesel::r2d2::PooledConnection<connection::Manager>;
