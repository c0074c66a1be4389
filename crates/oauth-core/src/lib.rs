//! Tessera's token service: the OAuth 2.0 / OpenID Connect protocol. It owns the authorization
//! endpoint (request validation, PKCE, exact redirect URIs, answering from the SSO session or
//! handing the browser to `authn`), authorization codes, the token endpoint and its grants
//! (authorization code, refresh with rotation and reuse detection, client credentials), client
//! authentication (secrets, `private_key_jwt`), ID and access tokens, signing keys and their
//! rotation, discovery and the JWKS, UserInfo, revocation and introspection, RP-initiated
//! logout, scopes and CORS.
//!
//! It asks `authn` for authentications and never renders a sign-in page; `authn` never signs a
//! token.

pub mod access_token;
pub mod authorize;
mod client_auth;
pub mod cors;
pub mod discovery;
mod html;
mod id_token;
mod issuer;
pub mod keys;
mod logout;
pub mod params;
pub mod remote_jwks;
mod revocation;
mod routes;
pub mod scope;
mod state;
pub mod subject;
mod token;
mod token_error;
mod userinfo;

pub use issuer::{Issuer, IssuerError};
pub use routes::{root_routes, routes};
pub use state::OAuthState;
pub use token_error::{TokenError, TokenErrorCode};
