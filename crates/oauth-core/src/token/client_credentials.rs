//! The client credentials grant (RFC 6749 §4.4): a confidential client's token for itself,
//! with the registered part of the scopes it asks for.
// An edge: request handlers read the clock and pass the time on.
#![allow(clippy::disallowed_methods)]

use actix_web::HttpResponse;
use chrono::Utc;
use tessera_admin::config::model::Client;

use super::{TokenResponse, no_store, sign_access_token};
use crate::access_token::AccessTokenClaims;
use crate::client_auth::AuthMethod;
use crate::params::Params;
use crate::state::OAuthState;
use crate::token_error::TokenError;

/// Issues an access token to an authenticated confidential client for itself.
pub(super) fn grant(
    state: &OAuthState,
    snapshot: &tessera_admin::Snapshot,
    (client, method): (&Client, AuthMethod),
    params: &Params,
) -> Result<HttpResponse, TokenError> {
    if method == AuthMethod::None || !client.capabilities.client_credentials {
        return Err(super::unauthorized("the client_credentials grant"));
    }
    let scopes = super::granted_scopes(client, params)?;
    let issued = sign_access_token(
        state,
        snapshot,
        &AccessTokenClaims {
            subject: &client.id,
            client,
            scopes: &scopes,
            authentication: None,
            groups: None,
        },
        Utc::now(),
    )?;
    Ok(no_store(&TokenResponse::bearer(&issued, &scopes)))
}
