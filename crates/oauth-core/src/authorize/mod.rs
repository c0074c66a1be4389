//! The authorization endpoint's rules: which requests are valid, where errors go, and how
//! redirect URIs and PKCE are checked. Pure functions; the HTTP handler and the hand-off to
//! `authn` build on them.

pub(crate) mod endpoint;
mod pkce;
mod redirect_uri;
mod request;

pub use pkce::{is_valid_challenge, verify_s256};
pub use redirect_uri::{error_redirect, redirect_uri_matches};
pub use request::{AuthorizationRequest, AuthorizeError, Prompt, ResponseMode, validate};
