//! Tessera's configuration: the typed model of email providers, authenticators, clients and
//! token settings; XML upload, merge and replace; validation; commits with versions and
//! rollback; and the live `ActiveConfig` snapshot every other crate reads.
//!
//! It owns the `config_versions` table (through `store`) and must not know HTTP handlers of the
//! other crates, OAuth protocol rules or how a sign-in proceeds.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
