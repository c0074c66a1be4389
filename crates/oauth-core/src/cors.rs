//! Cross-origin access for single-page apps (the Fetch standard's CORS protocol).
//!
//! A SPA signs in from its own origin: its OIDC library reads discovery and the JWKS, redeems
//! the code at the token endpoint, calls UserInfo and revokes its refresh token on sign-out,
//! all with `fetch`. Two policies cover it:
//!
//! - **public documents** (discovery, RFC 8414 metadata, JWKS) answer any origin with `*`:
//!   they are public and carry no credentials;
//! - **browser endpoints** (token, UserInfo, revocation) answer only origins that some client
//!   registered in `allowed-origins`, echoed with `Vary: Origin`. The set is read from the
//!   active configuration on every request, so a commit changes it without a restart. The token
//!   and revocation endpoints then also require the origin to be the authenticating client's
//!   own (see `token::authenticated_client`).
//!
//! Neither policy allows credentials: no cookie ever authenticates these calls. Introspection
//! is for backends and has no CORS at all.

use std::sync::Arc;

use actix_cors::Cors;
use actix_web::http::{Method, header};
use tessera_admin::ActiveConfig;

/// How long a browser may cache a preflight's answer. Chromium caps it at two hours.
pub const PREFLIGHT_MAX_AGE_SECONDS: usize = 7200;

/// The request headers a SPA sends: a bearer token, a form body, and (for sender-constrained
/// tokens) a DPoP proof.
const BROWSER_REQUEST_HEADERS: [&str; 3] = ["authorization", "content-type", "dpop"];

/// Discovery, metadata and JWKS: readable from any origin, without credentials.
pub fn public_documents() -> Cors {
    Cors::default()
        .allow_any_origin()
        .send_wildcard()
        .allowed_methods([Method::GET])
        .allow_any_header()
        .max_age(PREFLIGHT_MAX_AGE_SECONDS)
}

/// Token, UserInfo and revocation: readable from the origins registered for some client in the
/// active configuration. Other origins get the endpoint's own answer without
/// `Access-Control-Allow-Origin`, so the browser withholds it from the page; their preflights
/// are refused.
pub fn registered_origins(config: Arc<ActiveConfig>) -> Cors {
    Cors::default()
        .allowed_origin_fn(move |origin, _| {
            origin
                .to_str()
                .is_ok_and(|origin| config.load().is_registered_origin(origin))
        })
        .allowed_methods([Method::GET, Method::POST])
        .allowed_headers(BROWSER_REQUEST_HEADERS.map(header::HeaderName::from_static))
        .max_age(PREFLIGHT_MAX_AGE_SECONDS)
}
