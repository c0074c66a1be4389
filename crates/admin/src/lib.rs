//! Tessera's configuration: the typed model of email providers, authenticators, clients and
//! token settings; XML upload, merge and replace; validation; commits with versions and
//! rollback; and the live [`ActiveConfig`] snapshot every other crate reads.
//!
//! It owns the `config_versions` and `config_candidate` tables (through `store`) and the admin
//! API and pages. It must not know OAuth protocol rules or how a sign-in proceeds.

mod active;
pub mod config;
pub mod crypto;
pub mod http;
pub mod notify;
pub mod secrets;
mod secrets_kek;
mod service;

pub use active::{ActiveConfig, Snapshot};
pub use service::{
    CandidateView, CommitOutcome, ConfigError, ConfigService, ImportView, VersionInfo,
};
