//! Who may use SCIM: a client holding an access token from this issuer with the `scim` scope
//! (the client must still be configured with that scope), or the operator with the admin
//! bearer token.
// An edge: the extractor reads the clock and passes the time on.
#![allow(clippy::disallowed_methods)]

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use tessera_admin::http::AdminState;
use tessera_oauth_core::OAuthState;

use crate::error::ScimError;

/// The scope a client needs for SCIM.
pub const SCIM_SCOPE: &str = "scim";

/// Who made an authorized SCIM request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A client with a `scim` access token.
    Client(String),
    /// The operator with the admin token.
    Admin(String),
}

impl Caller {
    /// How the audit log names the caller.
    pub fn actor(&self) -> String {
        match self {
            Caller::Client(client) => format!("scim:{client}"),
            Caller::Admin(name) => format!("admin:{name}"),
        }
    }
}

impl FromRequest for Caller {
    type Error = ScimError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authorize(&req).await })
    }
}

async fn authorize(req: &HttpRequest) -> Result<Caller, ScimError> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ScimError::Unauthorized)?;
    // An access token is a JWT (three dot-separated parts); the admin token is not.
    if token.split('.').count() == 3 {
        let oauth = req
            .app_data::<web::Data<OAuthState>>()
            .ok_or(ScimError::Internal)?;
        let verified = tessera_oauth_core::access_token::verify(
            &oauth.keys,
            &oauth.issuer,
            token,
            chrono::Utc::now(),
        )
        .ok_or(ScimError::Unauthorized)?;
        let client_id = verified.client_id.ok_or(ScimError::Unauthorized)?;
        // A client's own token (client credentials: its `sub` is the client), never a token a
        // user signed in for through a client that happens to hold the scope.
        if verified.subject.as_deref() != Some(client_id.as_str()) {
            return Err(ScimError::Forbidden);
        }
        let still_allowed = oauth
            .config
            .load()
            .client(&client_id)
            .is_some_and(|client| client.scopes.iter().any(|s| s == SCIM_SCOPE));
        if !verified.scopes.iter().any(|s| s == SCIM_SCOPE) || !still_allowed {
            return Err(ScimError::Forbidden);
        }
        return Ok(Caller::Client(client_id));
    }
    let admin = req
        .app_data::<web::Data<AdminState>>()
        .ok_or(ScimError::Internal)?;
    admin
        .auth
        .authenticate(req)
        .await
        .map(Caller::Admin)
        .map_err(|_| ScimError::Unauthorized)
}
