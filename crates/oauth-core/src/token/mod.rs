//! `POST /oauth/token` (RFC 6749 §3.2): the request read and its client authenticated here,
//! then one module per grant: [`authorization_code`], [`refresh_token`] (rotation with reuse
//! detection) and [`client_credentials`].
// An edge: request handlers read the clock and pass the time on.
#![allow(clippy::disallowed_methods)]

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Serialize;
use tessera_admin::config::model::Client;

use crate::access_token::{self, AccessTokenClaims};
use crate::client_auth::{self, AuthMethod};
use crate::params::Params;
use crate::remote_jwks::Freshness;
use crate::state::OAuthState;
use crate::token_error::{TokenError, TokenErrorCode};

mod authorization_code;
mod client_credentials;
mod refresh_token;

/// A successful token response (RFC 6749 §5.1).
#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

impl<'a> TokenResponse<'a> {
    /// A bearer token response for `issued`, granted `scopes`.
    fn bearer(issued: &'a access_token::IssuedAccessToken, scopes: &[String]) -> Self {
        TokenResponse {
            access_token: &issued.token,
            token_type: "Bearer",
            expires_in: issued.expires_in,
            scope: (!scopes.is_empty()).then(|| scopes.join(" ")),
            id_token: None,
            refresh_token: None,
        }
    }
}

/// `unauthorized_client`: this client may not use `what`.
fn unauthorized(what: &str) -> TokenError {
    TokenError::new(
        TokenErrorCode::UnauthorizedClient,
        format!("This client may not use {what}."),
    )
}

fn no_store(body: &impl Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

/// The token endpoint.
pub async fn token(
    state: web::Data<OAuthState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, TokenError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.split(';').next().is_some_and(|t| {
        t.trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    }) {
        return Err(TokenError::new(
            TokenErrorCode::InvalidRequest,
            "The body must be application/x-www-form-urlencoded.",
        ));
    }
    let params = Params::parse(&body)?;
    let snapshot = state.config.load();
    let grant_type = params.require("grant_type")?;
    let (client, method) = authenticated_client(&state, &req, &params, &snapshot).await?;
    match grant_type {
        "client_credentials" => {
            client_credentials::grant(&state, &snapshot, (client, method), &params)
        }
        "authorization_code" => authorization_code::grant(&state, &snapshot, client, &params).await,
        "refresh_token" => refresh_token::grant(&state, &snapshot, client, &params).await,
        other => Err(TokenError::new(
            TokenErrorCode::UnsupportedGrantType,
            format!("Grant type {other:?} is not supported."),
        )),
    }
}

/// [`client_auth::authenticate`], with the key set of a client that publishes its keys: a
/// cached copy first, a fresh one when the assertion does not verify against an older copy.
async fn authenticate<'a>(
    state: &OAuthState,
    req: &HttpRequest,
    params: &Params,
    snapshot: &'a tessera_admin::Snapshot,
) -> Result<(&'a Client, AuthMethod, Option<client_auth::AssertionUse>), TokenError> {
    let issuer = state.issuer.as_str();
    let Some(uri) = client_auth::published_keys_uri(params, snapshot) else {
        return client_auth::authenticate(req, params, snapshot, &state.secrets, issuer, None);
    };
    let unavailable = || {
        TokenError::new(
            TokenErrorCode::InvalidClient,
            "The client's published keys could not be fetched.",
        )
    };
    let (keys, fetched_now) = state
        .remote_jwks
        .keys(uri, Freshness::Cached)
        .await
        .ok_or_else(unavailable)?;
    let first =
        client_auth::authenticate(req, params, snapshot, &state.secrets, issuer, Some(&keys));
    if first.is_ok() || fetched_now {
        return first;
    }
    match state.remote_jwks.keys(uri, Freshness::Renewed).await {
        Some((renewed, true)) => client_auth::authenticate(
            req,
            params,
            snapshot,
            &state.secrets,
            issuer,
            Some(&renewed),
        ),
        _ => first,
    }
}

/// Authenticates the client of a token, revocation or introspection request; a
/// `private_key_jwt` assertion's `jti` is recorded so that it cannot be used twice.
pub(crate) async fn authenticated_client<'a>(
    state: &OAuthState,
    req: &HttpRequest,
    params: &Params,
    snapshot: &'a tessera_admin::Snapshot,
) -> Result<(&'a Client, AuthMethod), TokenError> {
    let (client, method, assertion) = authenticate(state, req, params, snapshot).await?;
    check_browser_origin(req, snapshot, client)?;
    if let Some(used) = assertion {
        let client_id = client.id.clone();
        let now = Utc::now();
        let fresh = state
            .store
            .run(move |conn| {
                tessera_store::client_assertions::record_assertion(
                    conn,
                    &client_id,
                    &used.jti,
                    used.expires_at,
                    now,
                )
            })
            .await
            .map_err(server_error)?;
        if !fresh {
            return Err(TokenError::new(
                TokenErrorCode::InvalidClient,
                "This client assertion was already used.",
            ));
        }
    }
    Ok((client, method))
}

/// A request sent by a browser (it carries `Origin`) must come from one of the client's own
/// `allowed-origins`: another client's registered origin could otherwise redeem codes or
/// refresh tokens under this client's id. Checked before anything is redeemed.
fn check_browser_origin(
    req: &HttpRequest,
    snapshot: &tessera_admin::Snapshot,
    client: &Client,
) -> Result<(), TokenError> {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return Ok(());
    };
    let allowed = origin
        .to_str()
        .is_ok_and(|origin| snapshot.client_allows_origin(client, origin));
    if allowed {
        Ok(())
    } else {
        Err(TokenError::new(
            TokenErrorCode::InvalidClient,
            "This client does not accept browser requests from this origin (allowed-origins).",
        ))
    }
}

/// The requested scopes the client is registered for; none requested means all of them.
fn granted_scopes(client: &Client, params: &Params) -> Result<Vec<String>, TokenError> {
    match params.get("scope") {
        None => Ok(client.scopes.clone()),
        Some(requested) => crate::scope::grant(requested, &client.scopes).map_err(scope_refused),
    }
}

fn scope_refused(refusal: crate::scope::ScopeRefusal) -> TokenError {
    TokenError::new(TokenErrorCode::InvalidScope, refusal.description())
}

/// An `invalid_grant` error.
fn invalid_grant(description: &str) -> TokenError {
    TokenError::new(TokenErrorCode::InvalidGrant, description)
}

/// Signs an access token with this server's issuer and keys.
fn sign_access_token(
    state: &OAuthState,
    snapshot: &tessera_admin::Snapshot,
    claims: &AccessTokenClaims<'_>,
    now: chrono::DateTime<Utc>,
) -> Result<access_token::IssuedAccessToken, TokenError> {
    access_token::issue(&state.keys, &state.issuer, snapshot, claims, now).map_err(server_error)
}

/// A `server_error`, its cause logged (never sent).
/// The names of the account's groups when `scopes` grants `groups` (one round trip then, none
/// otherwise).
async fn groups_for(
    state: &OAuthState,
    account_id: uuid::Uuid,
    scopes: &[String],
) -> Result<Option<Vec<String>>, TokenError> {
    if !scopes.iter().any(|s| s == crate::scope::GROUPS) {
        return Ok(None);
    }
    state
        .store
        .run(move |conn| tessera_store::groups::names_of(conn, account_id))
        .await
        .map(Some)
        .map_err(|e| {
            if e.is_unavailable() {
                TokenError::new(TokenErrorCode::TemporarilyUnavailable, "Try again shortly.")
            } else {
                server_error(e)
            }
        })
}

fn server_error(e: impl std::fmt::Display) -> TokenError {
    tracing::error!(error = %e, "cannot complete a token request");
    TokenError::new(
        TokenErrorCode::ServerError,
        "The token could not be issued.",
    )
}

/// A fresh refresh token.
fn random_token() -> Result<String, TokenError> {
    tessera_admin::crypto::random_token().map_err(server_error)
}
