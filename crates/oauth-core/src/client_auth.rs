//! Client authentication at the token endpoint (RFC 6749 §2.3): `client_secret_basic`,
//! `client_secret_post` and `none` for public clients. Secrets are checked against the keyed
//! digest from the configuration in constant time — never a slow hash on this endpoint.

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::percent_decode_str;
use tessera_admin::Snapshot;
use tessera_admin::config::model::{Client, ClientAuthentication};
use tessera_admin::secrets::ConfigSecrets;

use crate::params::Params;
use crate::token_error::{TokenError, TokenErrorCode};

/// How the client presented itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// HTTP Basic.
    Basic,
    /// `client_id` and `client_secret` in the body.
    Post,
    /// `client_id` only (public client).
    None,
}

fn invalid_client(basic: bool) -> TokenError {
    TokenError {
        basic_attempted: basic,
        ..TokenError::new(
            TokenErrorCode::InvalidClient,
            "Client authentication failed.",
        )
    }
}

fn decode_basic(req: &HttpRequest) -> Result<Option<(String, String)>, TokenError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let parse = || -> Option<(String, String)> {
        let encoded = value.to_str().ok()?.strip_prefix("Basic ")?;
        let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        // RFC 6749 §2.3.1: both parts are form-urlencoded before being joined.
        let unescape = |s: &str| {
            percent_decode_str(&s.replace('+', " "))
                .decode_utf8()
                .ok()
                .map(|c| c.into_owned())
        };
        Some((unescape(id)?, unescape(secret)?))
    };
    parse().map(Some).ok_or_else(|| invalid_client(true))
}

/// The authenticated client, looked up in the configuration snapshot.
pub fn authenticate<'a>(
    req: &HttpRequest,
    params: &Params,
    snapshot: &'a Snapshot,
    secrets: &ConfigSecrets,
) -> Result<(&'a Client, AuthMethod), TokenError> {
    let basic = decode_basic(req)?;
    let body_id = params.get("client_id");
    let body_secret = params.get("client_secret");
    let (client_id, secret, method) = match (basic, body_secret) {
        (Some(_), Some(_)) => {
            return Err(TokenError::new(
                TokenErrorCode::InvalidRequest,
                "Use one client authentication method, not HTTP Basic and client_secret together.",
            ));
        }
        (Some((id, secret)), None) => {
            if body_id.is_some_and(|b| b != id) {
                return Err(TokenError::new(
                    TokenErrorCode::InvalidRequest,
                    "client_id in the body does not match the HTTP Basic credentials.",
                ));
            }
            (id, Some(secret), AuthMethod::Basic)
        }
        (None, Some(secret)) => {
            let id = body_id.ok_or_else(|| {
                TokenError::new(TokenErrorCode::InvalidRequest, "client_id is missing.")
            })?;
            (id.to_owned(), Some(secret.to_owned()), AuthMethod::Post)
        }
        (None, None) => {
            let id = body_id.ok_or_else(|| {
                TokenError::new(
                    TokenErrorCode::InvalidClient,
                    "Client authentication is required.",
                )
            })?;
            (id.to_owned(), None, AuthMethod::None)
        }
    };
    let is_basic = method == AuthMethod::Basic;
    let client = snapshot.client(&client_id);
    match (client.map(|c| &c.authentication), secret) {
        (Some(ClientAuthentication::SecretDigest(digest)), Some(secret)) => {
            if secrets.verify(&client_id, &secret, digest) {
                client
                    .map(|c| (c, method))
                    .ok_or_else(|| invalid_client(is_basic))
            } else {
                Err(invalid_client(is_basic))
            }
        }
        (Some(ClientAuthentication::None), None) => client
            .map(|c| (c, AuthMethod::None))
            .ok_or_else(|| invalid_client(is_basic)),
        (None, Some(secret)) => {
            // Unknown client: spend the same work as a real check so timing says nothing.
            let _ = secrets.digest(&client_id, &secret);
            Err(invalid_client(is_basic))
        }
        _ => Err(invalid_client(is_basic)),
    }
}
