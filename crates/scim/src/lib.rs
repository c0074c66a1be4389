//! Tessera's SCIM 2.0 service provider (RFC 7643, RFC 7644): the account directory as
//! provisioning systems (HR systems, Okta, Entra ID, scripts) manage it.
//!
//! The domain — [`schema`] (what is served, as data), [`filter`] (filters and paths),
//! [`patch`] (PATCH on a resource document), [`document`], [`user`] and [`group`] (resources
//! to and from the directory) — knows no HTTP; [`http`] is the thin surface over it.

pub mod document;
pub mod error;
pub mod filter;
pub mod group;
pub mod http;
pub mod patch;
pub mod schema;
pub mod user;

pub use error::ScimError;
pub use http::{ScimState, routes};
