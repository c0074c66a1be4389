//! Tessera's token service: the OAuth 2.0 / OpenID Connect protocol.
//!
//! It owns signing keys and their rotation, discovery metadata and the JWKS, and (in later
//! issues) authorization requests, codes, tokens and client authentication. It asks `authn` for
//! authentications and never renders a login page; `authn` never signs a token.

pub mod access_token;
pub mod authorize;
mod client_auth;
pub mod cors;
pub mod discovery;
mod error;
mod html;
mod http;
mod id_token;
mod issuer;
pub mod keys;
mod logout;
pub mod params;
mod revocation;
pub mod scope;
pub mod subject;
mod token_endpoint;
mod token_error;
mod userinfo;

pub use error::OAuthError;
pub use http::{OAuthState, root_routes, routes};
pub use issuer::{Issuer, IssuerError};
pub use token_error::{TokenError, TokenErrorCode};
